// Reads taskweave shards with DuckDB, an independent Parquet implementation,
// and prints what it sees as JSON, so tests and acceptance checks can compare
// it with what taskweave wrote.
//
//   node count.mjs FILE...                 per-file and total row counts and column sums
//   node count.mjs --sql 'QUERY' FILE...   runs QUERY over a view named `shards`
//                                          (all FILEs, plus a `filename` column)
//
// FILE may be a DuckDB glob such as 'out/ner/train/*.parquet'.
import { DuckDBInstance } from '@duckdb/node-api';

const args = process.argv.slice(2);
let sql = null;
if (args[0] === '--sql') {
  sql = args[1];
  args.splice(0, 2);
}
if (args.length === 0 || (sql !== null && !sql)) {
  console.error("usage: node count.mjs [--sql 'QUERY over shards'] FILE...");
  process.exit(2);
}

const quote = (s) => "'" + s.replaceAll("'", "''") + "'";
const list = (files) => '[' + files.map(quote).join(', ') + ']';

// Integers come back as BigInt; JSON has no BigInt, so emit numbers when they
// are exact and strings otherwise.
const toJSON = (v) =>
  JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? (Number.isSafeInteger(Number(x)) ? Number(x) : x.toString()) : x));

const summary = (files) => `
  SELECT count(*)                                   AS rows,
         count(DISTINCT example_id)                 AS distinct_example_ids,
         coalesce(sum(len(input_ids)), 0)           AS input_ids_len,
         coalesce(sum(list_sum(input_ids)), 0)      AS input_ids_sum,
         coalesce(sum(len(token_type_ids)), 0)      AS token_type_ids_len,
         coalesce(sum(len(token_labels)), 0)        AS token_labels_len,
         coalesce(sum(list_sum(token_labels)), 0)   AS token_labels_sum,
         coalesce(sum(len(word_ids)), 0)            AS word_ids_len,
         coalesce(sum(len(words)), 0)               AS words_len,
         coalesce(sum(label), 0)                    AS label_sum,
         coalesce(sum(length(text)), 0)             AS text_chars,
         min(example_id)                            AS min_example_id,
         max(example_id)                            AS max_example_id
  FROM read_parquet(${list(files)})`;

const instance = await DuckDBInstance.create(':memory:');
const conn = await instance.connect();
try {
  if (sql !== null) {
    await conn.run(`CREATE VIEW shards AS SELECT * FROM read_parquet(${list(args)}, filename = true)`);
    const reader = await conn.runAndReadAll(sql);
    console.log(toJSON(reader.getRowObjectsJS()));
  } else {
    const out = { files: [], total: null };
    for (const f of args) {
      const r = await conn.runAndReadAll(summary([f]));
      out.files.push({ file: f, ...r.getRowObjectsJS()[0] });
    }
    out.total = (await conn.runAndReadAll(summary(args))).getRowObjectsJS()[0];
    console.log(toJSON(out));
  }
} catch (e) {
  console.error(`parquetcheck: ${e.message}`);
  process.exitCode = 1;
} finally {
  conn.closeSync();
  instance.closeSync();
}
