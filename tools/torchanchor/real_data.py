#!/usr/bin/env python3
"""PyTorch anchor for the real-data recipe: trains a BERT-style encoder from
scratch on exactly the batches a taskweave run trained on (written by
`taskweave train --dump-batches FILE`: one JSON line per batch, in order),
with the recipe's optimizer (AdamW, no decay on biases and LayerNorm, eps
1e-6, linear warm-up and decay, gradient clipping), and prints real (unpadded)
tokens per second over all steps, as taskweave's summary counts them.

Needs Debian's python3-torch; run with /usr/bin/python3. scripts/realbench.sh
runs it back to back with taskweave.
  /usr/bin/python3 real_data.py --batches batches.jsonl [--size mini] [--threads 2]
      [--lr 1e-3] [--warmup 0.06] [--weight-decay 0.01] [--clip 1.0] [--amp bf16] [--json]
--amp bf16 runs the forward pass under torch.cpu.amp.autocast(dtype=torch.bfloat16),
as a CPU user of this processor would, and computes the losses in fp32 outside
it; the backward pass follows autocast's casts, the optimizer stays fp32.
The encoder is torch_bench.py's (nn.TransformerEncoder, post-LayerNorm, GELU,
dropout 0.1); the sequence head is BERT's (pooler on [CLS], then a linear
layer), the token head a linear layer, one per task of the batch file.
"""
import argparse, contextlib, json, time
import torch, torch.nn as nn

SIZES = dict(tiny=(2, 128, 2), mini=(4, 256, 4), small=(4, 512, 8), medium=(8, 512, 8), base=(12, 768, 12))


class Model(nn.Module):
    def __init__(self, L, H, A, vocab, tasks):
        super().__init__()
        self.emb, self.pos, self.typ = nn.Embedding(vocab, H), nn.Embedding(512, H), nn.Embedding(2, H)
        self.ln = nn.LayerNorm(H, eps=1e-12)
        self.drop = nn.Dropout(0.1)
        layer = nn.TransformerEncoderLayer(H, A, 4 * H, dropout=0.1, activation="gelu", batch_first=True)
        self.enc = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
        self.heads = nn.ModuleDict()
        for name, (kind, n) in tasks.items():
            if kind == "seq":
                self.heads[name] = nn.Sequential(nn.Linear(H, H), nn.Tanh(), nn.Dropout(0.1), nn.Linear(H, n))
            else:
                self.heads[name] = nn.Sequential(nn.Dropout(0.1), nn.Linear(H, n))

    def forward(self, task, kind, ids, types, mask):
        T = ids.shape[1]
        x = self.drop(self.ln(self.emb(ids) + self.pos(torch.arange(T))[None] + self.typ(types)))
        h = self.enc(x, src_key_padding_mask=(mask == 0))
        return self.heads[task](h[:, 0] if kind == "seq" else h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batches", required=True)
    ap.add_argument("--size", default="mini")
    ap.add_argument("--vocab", type=int, default=28996)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--amp", choices=["bf16"], help="bf16 autocast around the forward pass (losses in fp32)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    batches = [json.loads(l) for l in open(a.batches)]
    tasks = {}
    for b in batches:
        kind = "seq" if b.get("labels") else "tok"
        labels = b.get("labels") or b.get("token_labels")
        n = max(labels) + 1
        k, m = tasks.get(b["task"], (kind, 2))
        tasks[b["task"]] = (kind, max(m, n))
    model = Model(*SIZES[a.size], a.vocab, tasks)
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith(".bias") or ".ln." in name or "norm" in name or name.startswith("ln.") else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, eps=1e-6)
    steps = len(batches)
    warm = int(a.warmup * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / max(1, warm) if s < warm else max(0.0, (steps - s) / max(1, steps - warm)))
    model.train()
    real = padded = 0
    t0 = time.perf_counter()
    for b in batches:
        B, T = b["b"], b["t"]
        ids = torch.tensor(b["input_ids"]).view(B, T)
        mask = torch.tensor(b["mask"]).view(B, T) if b.get("mask") else torch.ones(B, T, dtype=torch.long)
        types = torch.tensor(b["token_type_ids"]).view(B, T) if b.get("token_type_ids") else torch.zeros(B, T, dtype=torch.long)
        kind = tasks[b["task"]][0]
        amp = torch.cpu.amp.autocast(dtype=torch.bfloat16) if a.amp == "bf16" else contextlib.nullcontext()
        with amp:
            out = model(b["task"], kind, ids, types, mask)
        out = out.float()
        if kind == "seq":
            loss = nn.functional.cross_entropy(out, torch.tensor(b["labels"]), ignore_index=-100)
        else:
            loss = nn.functional.cross_entropy(out.reshape(B * T, -1), torch.tensor(b["token_labels"]), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        if a.clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        sched.step()
        real += int(mask.sum())
        padded += B * T
    sec = time.perf_counter() - t0
    r = dict(size=a.size, steps=steps, real_tokens=real, padded_tokens=padded, seconds=sec,
             tokens_per_s=real / sec, padded_tokens_per_s=padded / sec, threads=a.threads, torch=torch.__version__,
             precision=a.amp or "fp32")
    print(json.dumps(r) if a.json else f"{a.size} {r['precision']}: {steps} steps, {real / sec:.0f} real tokens/s ({padded / sec:.0f} padded) in {sec:.1f} s", flush=True)


if __name__ == "__main__":
    main()
