"""Measures how Google's original BERT tokenizer differs from the Hugging Face
reference that text/wordpiece reproduces.

It re-implements the rules of google-research/bert tokenization.py (clean-up
deletes every category C* character, whitespace is " \t\n\r" plus Zs, CJK
from U+2B820, lower-case then NFD per word, no special tokens) and compares
it with the Hugging Face tokens in golden.jsonl.gz, per source.

    /usr/bin/python3 tools/tokref/google_bert_check.py /work/shared/corpora/bert_vocab text/wordpiece/testdata/golden.jsonl.gz
"""
import gzip, json, sys, unicodedata, collections

def load(p):
    v = {}
    with open(p, encoding='utf-8') as f:
        for i, l in enumerate(f):
            v[l.strip()] = i
    return v

def cjk(cp):
    return any(a <= cp <= b for a, b in [(0x4E00,0x9FFF),(0x3400,0x4DBF),(0x20000,0x2A6DF),(0x2A700,0x2B73F),(0x2B740,0x2B81F),(0x2B820,0x2CEAF),(0xF900,0xFAFF),(0x2F800,0x2FA1F)])

def punct(c):
    cp = ord(c)
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126 or unicodedata.category(c)[0] == 'P'

def basic(text, lower):
    out = []
    for c in text:
        if c in '\t\n\r ' or unicodedata.category(c) == 'Zs':
            out.append(' ')
        elif ord(c) in (0, 0xfffd) or unicodedata.category(c)[0] == 'C':
            continue
        elif cjk(ord(c)):
            out.append(' ' + c + ' ')
        else:
            out.append(c)
    words = []
    for w in ''.join(out).split():
        if lower:
            w = ''.join(c for c in unicodedata.normalize('NFD', w.lower()) if unicodedata.category(c) != 'Mn')
        cur = ''
        for c in w:
            if punct(c):
                if cur: words.append(cur)
                words.append(c); cur = ''
            else:
                cur += c
        if cur: words.append(cur)
    return ' '.join(words).split()

def wordpiece(w, vocab):
    if len(w) > 100: return ['[UNK]']
    res, start = [], 0
    while start < len(w):
        end = len(w)
        while end > start:
            s = w[start:end] if start == 0 else '##' + w[start:end]
            if s in vocab: break
            end -= 1
        if end == start: return ['[UNK]']
        res.append(s); start = end
    return res

def tok(text, vocab, lower):
    return [p for w in basic(text, lower) for p in wordpiece(w, vocab)]

vocab_dir, golden = sys.argv[1], sys.argv[2]
vc = load(vocab_dir + '/google_cased_en_vocab.txt')
vu = load(vocab_dir + '/google_uncased_en_vocab.txt')
diff = collections.Counter(); total = collections.Counter(); ex = []
for line in gzip.open(golden, 'rt', encoding='utf-8'):
    c = json.loads(line); src = c['src'].split(':')[0]; total[src] += 1
    d = tok(c['text'], vc, False) != c['cased'] or tok(c['text'], vu, True) != c['uncased']
    if d:
        diff[src] += 1
        if src != 'fuzz' and len(ex) < 30: ex.append((c['src'], c['text'], tok(c['text'], vc, False), c['cased'], tok(c['text'], vu, True), c['uncased']))
print('python unicodedata', unicodedata.unidata_version)
for s in total: print(s, diff[s], 'of', total[s], 'differ')
for e in ex: print(repr(e))
