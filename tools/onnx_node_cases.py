"""Writes the ONNX node conformance cases of the installed onnx wheel into a folder.

Usage: python tools/onnx_node_cases.py OUT_DIR
Each case is OUT_DIR/node/<test_name>/model.onnx + test_data_set_*/{input,output}_*.pb, written by
onnx's own generator (onnx.backend.test.cmd_tools.generate_data).
"""
import argparse
import sys

from onnx.backend.test import cmd_tools
from onnx.backend.test.case import node

out = sys.argv[1]
# generate_data writes what model_test.collect_testcases returns: point it at the node cases.
cmd_tools.model_test.collect_testcases = lambda: node.collect_testcases(None)
cmd_tools.generate_data(argparse.Namespace(output=out))
