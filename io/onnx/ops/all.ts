/**
 * Registers every operator file.
 *
 * @module
 */
import "./elementwise.ts";
import "./shape.ts";
import "./nn.ts";
import "./control.ts";
import "./attention.ts";
import "./rnn.ts";
import "./resize.ts";
import "./misc.ts";
import "./quant.ts";
import "./grid_sample.ts";
import "./dft.ts";
import "./nms.ts";
