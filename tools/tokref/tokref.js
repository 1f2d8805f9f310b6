#!/usr/bin/env node
// Writes the golden files that text/wordpiece tests against, using
// Hugging Face tokenizers (Rust, native npm bindings) set up exactly like
// BertWordPieceTokenizer: BertNormalizer, BertPreTokenizer, WordPiece with
// "##" and 100 chars per word, and the five special tokens as added tokens.
//
// Regenerate (from the repository root, after `npm ci --prefix tools/tokref`):
//   node tools/tokref/tokref.js /work/shared/corpora .
//
// Outputs:
//   text/wordpiece/testdata/golden.jsonl.gz
//       one line per input: {"src","text","cased":[...],"uncased":[...]}
//   text/wordpiece/testdata/unicode_sweep.tsv.gz
//       every code point's fate in the normaliser (cased and uncased) and
//       whether the pre-tokenizer splits it as punctuation; code point ranges
//       not listed are unchanged
//   text/align/testdata/pairs.jsonl
//       [CLS] a [SEP] b [SEP] with longest-first truncation at several max
//       lengths (cased vocabulary): {"a","b","max_len","tokens","type_ids"}
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const tk = require('tokenizers');

const SPECIALS = ['[UNK]', '[SEP]', '[CLS]', '[PAD]', '[MASK]'];

async function build(vocab, lowercase) {
  const model = await tk.WordPiece.fromFile(vocab, {
    unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100,
  });
  const t = new tk.Tokenizer(model);
  t.setNormalizer(tk.bertNormalizer({
    cleanText: true, handleChineseChars: true, stripAccents: lowercase, lowercase,
  }));
  t.setPreTokenizer(tk.bertPreTokenizer());
  t.addSpecialTokens(SPECIALS);
  return t;
}

// The hand-written hard cases. Keep each one short and say in words what it probes
// only where that is not obvious from the text itself.
const ADVERSARIAL = [
  '', ' ', '\t\n\r', 'hello', 'Hello World', 'HELLO', "don't", "Don't stop", 'U.S.A.', 'e.g. i.e.',
  '3.14159', '1,000,000', '-42', '2024-01-31', '10:30am', '$100', '50%', '#hashtag', '@user',
  'https://example.com/path?q=1&x=2#frag', 'mailto:someone@example.org', 'C++ and C#', 'a+b=c',
  'İstanbul', 'İ', 'i̇', 'ß', 'STRASSE Straße', 'ẞ', 'ﬁnance ﬂow', 'ﬃ', 'Æsir', 'œuvre', 'Ångström',
  'café', 'cafe\u0301', 'naïve', 'Zoë', 'résumé', 'élève', 'ÉLÈVE', 'Crème Brûlée', 'Ǆ ǅ ǆ', 'Ⅷ',
  'ΟΔΟΣ', 'Σίσυφος', 'Москва', 'МОСКВА', 'ﬀ', 'ǰ', 'ŉ', 'ᾈ', 'K', 'Å', '㎏', '①②③', '½', 'x²',
  '😀', '👍🏽', '👨‍👩‍👧‍👦', '🧑‍💻', '🏳️‍🌈', '❤️', '#️⃣', '🇺🇸', '🥰', '🫠', 'hi😀there',
  'zero\u200bwidth', 'zero\u200cnon\u200djoiner', '\u200b', '\u2060word\ufeff', '\u00adsoft\u00adhyphen',
  'a\u0300', '\u0301', 'e\u0301\u0301\u0301', 'Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334', 'ṩ', 'q\u0307\u0323',
  'ภาษาไทย', 'สวัสดีครับ', '中文', '我爱北京天安门', '日本語のテキスト', 'カタカナ', 'ｶﾀｶﾅ', '한국어', '한국어 텍스트',
  '中a文', 'abc中def', '㐀', '\u{20000}', '\u{2A700}', '\u{2B740}', '\u{2B820}', '\u{2B920}', '\u{2CEAF}', '\uf900', '\ufa0e',
  '\u{2F800}', '〇', '「引用」', '。、', '：', 'العربية', 'مرحبا بالعالم', '\u202bRTL\u202c', 'עברית', 'हिन्दी', 'தமிழ்',
  'ქართული', 'Ελληνικά', 'Tiếng Việt', 'ꙮ', '\u0378', '\u{E0001}', '\ue000', '\u{F0000}', '\ufffd', 'a\ufffdb',
  '\u0000', 'a\u0000b', 'a\u0001b\u0002c', 'a\u0007b', 'a\u000bb', 'a\u000cb', 'a\u001fb', 'a\u007fb', 'a\u0085b',
  'a\u00a0b', 'a\u1680b', 'a\u2000b', 'a\u2028b', 'a\u2029b', 'a\u202fb', 'a\u205fb', 'a\u3000b', 'a\u180eb',
  'line1\r\nline2', 'tab\tseparated\tvalues',
  '[CLS]', '[SEP]', '[UNK]', '[MASK]', '[PAD]', '[CLS] hello [SEP]', 'a[SEP]b', '[cls]', '[CLS', 'CLS]', '[[CLS]]',
  '[MASK][MASK]', '[UNK]nown', 'x [PAD] y', '[unused1]', '[ CLS ]', '[C\u0000LS]', '[CLS]\u0301',
  'a'.repeat(100), 'a'.repeat(101), 'é'.repeat(100), 'é'.repeat(101), 'x'.repeat(250),
  'antidisestablishmentarianism', 'Supercalifragilisticexpialidocious', 'pneumonoultramicroscopicsilicovolcanoconiosis',
  'unaffable', 'unbelievably', 'tokenization', 'WordPiece', 'BERT', 'GPT-3.5-turbo', 'COVID-19', 'iPhone', 'eBay',
  '...', '!!!', '?!', '—', '–', '‘quoted’', '“quoted”', '«guillemets»', '¿Qué?', '¡Hola!', '§3', '¶', '•', '†‡',
  '℃', '€100', '£5', '¥', '₹', '©®™', '°', '±', '×÷', '∑∫', '→', '♥', '★', '✓', '\\', '/', '|', '~', '`', '^',
  'snake_case_name', 'kebab-case-name', 'CamelCaseName', 'x86_64', '0x1F600', 'v1.2.3', 'C:\\Users\\x',
  'it \'s a charming and often affecting journey . ', '-lrb- -rrb- `` \'\'', 'n\'t', 'ca n\'t',
];

// Random strings over a mix of code point pools; a fixed seed keeps the file stable.
function fuzz(n) {
  let s = 0x2545F491;
  const rnd = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 4294967296; };
  const pools = [
    [0x20, 0x7e], [0x20, 0x7e], [0x00, 0x1f], [0xa0, 0x24f], [0x300, 0x36f], [0x370, 0x3ff], [0x400, 0x4ff],
    [0x590, 0x6ff], [0x900, 0x97f], [0xe00, 0xe7f], [0x1e00, 0x1eff], [0x2000, 0x206f], [0x20a0, 0x218f],
    [0x2460, 0x24ff], [0x3000, 0x30ff], [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xac00, 0xd7a3], [0xe000, 0xe0ff],
    [0xf900, 0xfaff], [0xfb00, 0xfb4f], [0xfe00, 0xfe6f], [0xff00, 0xffef], [0xfff0, 0xffff], [0x1d400, 0x1d7ff],
    [0x1f300, 0x1faff], [0x20000, 0x2fa1f], [0xe0000, 0xe007f], [0x0378, 0x037f],
  ];
  const words = ['the', 'The', 'running', 'unbelievable', '[CLS]', '[SEP]', '[MASK]', '[', ']', "n't", '##', 'İ', 'ß'];
  const out = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(rnd() * 24);
    let str = '';
    for (let j = 0; j < len; j++) {
      if (rnd() < 0.15) { str += words[Math.floor(rnd() * words.length)]; continue; }
      const [lo, hi] = pools[Math.floor(rnd() * pools.length)];
      let cp = lo + Math.floor(rnd() * (hi - lo + 1));
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x20;
      str += String.fromCodePoint(cp);
    }
    out.push(str);
  }
  return out;
}

function inputs(corpora) {
  const cases = [];
  ADVERSARIAL.forEach((t, i) => cases.push(['adversarial:' + (i + 1), t]));
  fuzz(3000).forEach((t, i) => cases.push(['fuzz:' + (i + 1), t]));

  const sst = fs.readFileSync(path.join(corpora, 'sst2/dev.tsv'), 'utf8').split('\n');
  sst.slice(1).forEach((line, i) => {
    if (line.trim() === '') return;
    cases.push(['sst2-dev:' + (i + 2), line.slice(0, line.lastIndexOf('\t'))]);
  });

  // WNUT17 dev: each tweet as one text, and every distinct word on its own
  // (token tasks tokenize word by word).
  const wnut = fs.readFileSync(path.join(corpora, 'wnut17/emerging.dev.conll'), 'utf8').split('\n');
  let words = [], start = 0;
  const seen = new Set();
  wnut.forEach((line, i) => {
    const w = line.replace(/^\ufeff/, '').split('\t')[0];
    if (line.trim() === '' || w === '') {
      if (words.length) cases.push(['wnut17-dev:' + start, words.join(' ')]);
      words = [];
      return;
    }
    if (!words.length) start = i + 1;
    words.push(w);
    if (!seen.has(w)) { seen.add(w); cases.push(['wnut17-dev-word:' + (i + 1), w]); }
  });
  if (words.length) cases.push(['wnut17-dev:' + start, words.join(' ')]);

  // UD English EWT dev: the raw sentence text (untokenised, mixed case).
  const ud = fs.readFileSync(path.join(corpora, 'ud_english_ewt/en_ewt-ud-dev.conllu'), 'utf8').split('\n');
  ud.forEach((line, i) => {
    if (line.startsWith('# text = ')) cases.push(['ud-ewt-dev:' + (i + 1), line.slice(9)]);
  });
  return cases;
}

function sweep() {
  const nU = tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: true, lowercase: true });
  const nC = tk.bertNormalizer({ cleanText: true, handleChineseChars: true, stripAccents: false, lowercase: false });
  const pt = tk.bertPreTokenizer();
  const cls = (out, c) => {
    if (out === c) return '=';
    if (out === '') return 'D';
    if (out === ' ') return 'W';
    if (out === ' ' + c + ' ') return 'P';
    return 'L:' + [...out].map((x) => x.codePointAt(0).toString(16)).join(',');
  };
  const lines = ['# first-last\tcased|uncased|punct   (=: unchanged, D: deleted, W: becomes a space, P: padded with spaces, L: replaced by these code points; p: split as punctuation)'];
  let prev = null, start = 0;
  const flush = (end) => {
    if (prev !== null && prev !== '=|=|-') lines.push(start.toString(16) + '-' + end.toString(16) + '\t' + prev);
    prev = null;
  };
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue; // not representable as text
    const c = String.fromCodePoint(cp);
    const k = cls(nC.normalizeString(c), c) + '|' + cls(nU.normalizeString(c), c) + '|' +
      (pt.preTokenizeString('a' + c + 'a').length === 3 ? 'p' : '-');
    if (k.includes('L:')) { flush(cp - 1); lines.push(cp.toString(16) + '-' + cp.toString(16) + '\t' + k); continue; }
    if (k !== prev) { flush(cp - 1); prev = k; start = cp; }
  }
  flush(0x10ffff);
  return lines.join('\n') + '\n';
}

// Sentence pairs of every length combination up to 9 words, truncated
// longest-first the way BertTokenizerFast does with truncation=True.
async function pairs(vocab) {
  const words = ['the', 'unaffable', 'cat', 'sat', 'on', 'tokenization', 'mat', 'and', 'purred', 'loudly'];
  const lines = [];
  // 4 is left out on purpose: with room for one id, Hugging Face truncates one
  // sequence to zero, which moves it whole to the overflow list and gives
  // inconsistent results (see text/align package doc).
  for (const maxLen of [3, 5, 6, 7, 8, 11, 16]) {
    const t = await build(vocab, false);
    t.setPostProcessor(tk.bertProcessing(['[SEP]', 102], ['[CLS]', 101]));
    t.setTruncation(maxLen, { strategy: 'LongestFirst' });
    for (let na = 1; na <= 9; na++) {
      for (let nb = 1; nb <= 9; nb++) {
        const a = words.slice(0, na).join(' ');
        const b = words.slice(10 - nb).join(' ');
        const e = await t.encode(a, b);
        lines.push(JSON.stringify({ a, b, max_len: maxLen, tokens: e.getTokens(), type_ids: e.getTypeIds() }));
      }
    }
  }
  return lines.join('\n') + '\n';
}

async function main() {
  const [corpora, root] = process.argv.slice(2);
  if (!corpora || !root) {
    console.error('usage: node tools/tokref/tokref.js <corpora dir> <repository root>');
    process.exit(2);
  }
  const out = path.join(root, 'text/wordpiece/testdata');
  const alignOut = path.join(root, 'text/align/testdata');
  const cased = await build(path.join(corpora, 'bert_vocab/google_cased_en_vocab.txt'), false);
  const uncased = await build(path.join(corpora, 'bert_vocab/google_uncased_en_vocab.txt'), true);
  const cases = inputs(corpora);
  const opts = { addSpecialTokens: false };
  const texts = cases.map((c) => c[1]);
  const ec = await cased.encodeBatch(texts, opts);
  const eu = await uncased.encodeBatch(texts, opts);
  const lines = cases.map(([src, text], i) => JSON.stringify({
    src, text, cased: ec[i].getTokens(), uncased: eu[i].getTokens(),
  }));
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(path.join(out, 'golden.jsonl.gz'), zlib.gzipSync(lines.join('\n') + '\n', { level: 9 }));
  fs.writeFileSync(path.join(out, 'unicode_sweep.tsv.gz'), zlib.gzipSync(sweep(), { level: 9 }));
  fs.mkdirSync(alignOut, { recursive: true });
  fs.writeFileSync(path.join(alignOut, 'pairs.jsonl'), await pairs(path.join(corpora, 'bert_vocab/google_cased_en_vocab.txt')));
  const version = require('tokenizers/package.json').version;
  console.log(`tokenizers ${version} (node ${process.version}): ${cases.length} golden cases, unicode sweep and pairs written under ${root}`);
}

main().catch((e) => { console.error(e); process.exit(1); });
