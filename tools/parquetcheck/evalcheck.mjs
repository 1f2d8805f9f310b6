// Recomputes evaluation figures from taskweave's predictions Parquet files
// with DuckDB (an independent Parquet reader), so tests can check that the
// predictions written by `taskweave evaluate` reproduce its report.
//
//   node evalcheck.mjs [--scheme iob1|iob2] FILE...
//
// Sequence classification files (gold_id column): rows, accuracy, macro_f1.
// Token files (list columns gold/predicted): words, token_accuracy, and with
// --scheme the entity counts and micro P/R/F1 under conlleval's chunk rules
// (a B- starts a chunk, an I- starts one after O or after another type, O or
// a type change ends one, the sentence end closes one), implemented here
// separately from the Go code. Regression files: rows and Pearson's r.
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2);
let scheme = null;
if (args[0] === '--scheme') {
  scheme = args[1];
  args.splice(0, 2);
}
if (args.length === 0) {
  console.error('usage: node evalcheck.mjs [--scheme iob1|iob2] FILE...');
  process.exit(2);
}
const quote = (s) => "'" + s.replaceAll("'", "''") + "'";
const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
await conn.run(`CREATE VIEW p AS SELECT * FROM read_parquet([${args.map(quote).join(', ')}])`);
const cols = (await conn.runAndReadAll('DESCRIBE p')).getRowObjectsJS().map((r) => [r.column_name, r.column_type]);
const type = Object.fromEntries(cols);
const rows = (await conn.runAndReadAll('SELECT * FROM p ORDER BY example_id')).getRowObjectsJS();
const out = { rows: rows.length };

if ('gold_id' in type) {
  let correct = 0;
  const tp = new Map(), gold = new Map(), pred = new Map();
  const inc = (m, k) => m.set(k, (m.get(k) || 0) + 1);
  for (const r of rows) {
    inc(gold, r.gold);
    inc(pred, r.predicted);
    if (r.gold === r.predicted) {
      correct++;
      inc(tp, r.gold);
    }
  }
  const labels = new Set([...gold.keys(), ...pred.keys()]);
  let f1sum = 0;
  for (const l of labels) {
    const t = tp.get(l) || 0, p = pred.get(l) || 0, g = gold.get(l) || 0;
    const prec = p ? t / p : 0, rec = g ? t / g : 0;
    f1sum += prec + rec > 0 ? (2 * prec * rec) / (prec + rec) : 0;
  }
  out.accuracy = rows.length ? correct / rows.length : 0;
  out.macro_f1 = labels.size ? f1sum / labels.size : 0;
} else if (type.gold && type.gold.endsWith('[]')) {
  let words = 0, correct = 0;
  let nGold = 0, nPred = 0, nCorrect = 0;
  for (const r of rows) {
    const g = r.gold || [], p = r.predicted || [];
    words += g.length;
    for (let i = 0; i < g.length; i++) if (g[i] === p[i]) correct++;
    if (scheme) {
      const gs = new Set(chunks(g).map((c) => c.join('|')));
      const ps = chunks(p);
      nGold += gs.size;
      nPred += ps.length;
      for (const c of ps) if (gs.has(c.join('|'))) nCorrect++;
    }
  }
  out.words = words;
  out.token_accuracy = words ? correct / words : 0;
  if (scheme) {
    const P = nPred ? nCorrect / nPred : 0, R = nGold ? nCorrect / nGold : 0;
    Object.assign(out, { gold_chunks: nGold, pred_chunks: nPred, correct_chunks: nCorrect, precision: P, recall: R, f1: P + R ? (2 * P * R) / (P + R) : 0 });
  }
} else {
  const xs = rows.map((r) => r.gold), ys = rows.map((r) => r.predicted);
  const mean = (v) => v.reduce((a, b) => a + b, 0) / v.length;
  const mx = mean(xs), my = mean(ys);
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < xs.length; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
    syy += (ys[i] - my) ** 2;
  }
  out.pearson = sxx && syy ? sxy / Math.sqrt(sxx * syy) : 0;
}
console.log(JSON.stringify(out));

// chunks returns [type, start, end] triples of one sentence's tags. A chunk
// is open from its start until a token that is O, a B-, or of another type,
// or the end of the sentence.
function chunks(tags) {
  const res = [];
  let open = null; // {type, start}
  tags.forEach((tag, i) => {
    const dash = tag.indexOf('-');
    const prefix = dash < 0 ? tag : tag.slice(0, dash);
    const typ = dash < 0 ? '' : tag.slice(dash + 1);
    const inside = prefix !== 'O' && prefix !== '.';
    const continues = open && inside && prefix !== 'B' && typ === open.type;
    if (open && !continues) {
      res.push([open.type, open.start, i]);
      open = null;
    }
    if (!open && inside) open = { type: typ, start: i };
  });
  if (open) res.push([open.type, open.start, tags.length]);
  return res;
}
