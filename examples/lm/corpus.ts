/**
 * The training corpus of `deno task train:lm`: the King James Bible (public domain), from
 * Debian's `bible-kjv-text` package read through its `bible` command, book by book, into
 * `train.txt` and `heldout.txt` in a cache folder. Every 20th chapter (the 20th, 40th, ... in
 * canonical order) is held out, so both splits span the whole book. A chapter is its verses, one
 * per line, and chapters are separated by a blank line. The extraction is deterministic: the
 * same package gives the same bytes.
 *
 * Why the KJV and not `fortunes`: 4.3 MB of one consistent style (about 1 M tokens with a
 * 1 k vocabulary), so a small model learns recognisable text in minutes; the fortunes are
 * shorter, of every style, and partly offensive.
 *
 * @module
 */

/** The 66 books, in the `bible` command's spelling. */
export const BOOKS = [
  "Genesis",
  "Exodus",
  "Leviticus",
  "Numbers",
  "Deuteronomy",
  "Joshua",
  "Judges",
  "Ruth",
  "1Samuel",
  "2Samuel",
  "1Kings",
  "2Kings",
  "1Chronicles",
  "2Chronicles",
  "Ezra",
  "Nehemiah",
  "Esther",
  "Job",
  "Psalms",
  "Proverbs",
  "Ecclesiastes",
  "Song",
  "Isaiah",
  "Jeremiah",
  "Lamentations",
  "Ezekiel",
  "Daniel",
  "Hosea",
  "Joel",
  "Amos",
  "Obadiah",
  "Jonah",
  "Micah",
  "Nahum",
  "Habakkuk",
  "Zephaniah",
  "Haggai",
  "Zechariah",
  "Malachi",
  "Matthew",
  "Mark",
  "Luke",
  "John",
  "Acts",
  "Romans",
  "1Corinthians",
  "2Corinthians",
  "Galatians",
  "Ephesians",
  "Philippians",
  "Colossians",
  "1Thessalonians",
  "2Thessalonians",
  "1Timothy",
  "2Timothy",
  "Titus",
  "Philemon",
  "Hebrews",
  "James",
  "1Peter",
  "2Peter",
  "1John",
  "2John",
  "3John",
  "Jude",
  "Revelation",
]; // deno-fmt-ignore

/** Every `HELDOUT_EVERY`-th chapter goes to the held-out split. */
export const HELDOUT_EVERY = 20;

/** Chapters of one book's `bible` output: header lines "Book N", then "  v text" per verse. */
export function parseChapters(out: string): string[] {
  const chapters: string[] = [];
  let cur: string[] | null = null;
  for (const line of out.split("\n")) {
    const verse = /^\s+\d+ (.*)$/.exec(line);
    if (verse) {
      if (!cur) throw new Error(`corpus: a verse before any chapter header: ${line}`);
      cur.push(verse[1].trim());
    } else if (line.trim() !== "") {
      if (cur?.length) chapters.push(cur.join("\n"));
      cur = [];
    }
  }
  if (cur?.length) chapters.push(cur.join("\n"));
  return chapters;
}

/** One book's chapters, from the `bible` command. */
async function book(name: string): Promise<string[]> {
  let res;
  try {
    res = await new Deno.Command("bible", {
      args: ["-l100000", `${name}1:1-999:999`],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "corpus: the `bible` command is missing. Install it: apt-get install -y bible-kjv bible-kjv-text",
      );
    }
    throw e;
  }
  if (!res.success) {
    throw new Error(`corpus: bible ${name} failed: ${new TextDecoder().decode(res.stderr)}`);
  }
  const ch = parseChapters(new TextDecoder().decode(res.stdout));
  if (ch.length === 0) throw new Error(`corpus: bible ${name} printed no chapter`);
  return ch;
}

/** The two splits as text. */
export interface Corpus {
  /** Training text. */
  train: string;
  /** Held-out text. */
  heldout: string;
  /** Chapters in each split. */
  chapters: { train: number; heldout: number };
}

/** Extract the corpus (or read it from `dir` when both files are there already). */
export async function loadCorpus(dir: string): Promise<Corpus> {
  const tp = `${dir}/train.txt`, hp = `${dir}/heldout.txt`;
  try {
    const [train, heldout] = await Promise.all([Deno.readTextFile(tp), Deno.readTextFile(hp)]);
    const count = (s: string) => s.split("\n\n").length;
    return { train, heldout, chapters: { train: count(train), heldout: count(heldout) } };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const train: string[] = [], heldout: string[] = [];
  let n = 0;
  for (const b of BOOKS) {
    for (const c of await book(b)) (++n % HELDOUT_EVERY === 0 ? heldout : train).push(c);
  }
  if (n !== 1189) throw new Error(`corpus: expected the KJV's 1189 chapters, got ${n}`);
  await Deno.mkdir(dir, { recursive: true });
  const out = { train: train.join("\n\n"), heldout: heldout.join("\n\n") };
  await Deno.writeTextFile(`${tp}.tmp`, out.train);
  await Deno.writeTextFile(`${hp}.tmp`, out.heldout);
  await Deno.rename(`${tp}.tmp`, tp);
  await Deno.rename(`${hp}.tmp`, hp);
  return { ...out, chapters: { train: train.length, heldout: heldout.length } };
}

if (import.meta.main) {
  const dir = Deno.args[0] ?? ".cache/lm";
  const c = await loadCorpus(dir);
  console.log(
    `${dir}: train ${c.chapters.train} chapters (${c.train.length} chars), ` +
      `held out ${c.chapters.heldout} (${c.heldout.length} chars)`,
  );
}
