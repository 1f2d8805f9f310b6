#!/usr/bin/env python3
"""Independent PyTorch reference for taskweave's soft parameter sharing:
low-rank task factors (W_t = W + A_t·B_t, per-task or shared basis A) and
layer attention (a task's head reads gamma * sum_j softmax(w)_j * h_j over the
embeddings' output h_0 and every layer's output).

Writes DIR/sharing.json (the encoder config and each task's sharing),
DIR/model.safetensors (weights under taskweave's checkpoint names: shared
tensors under Hugging Face BertModel names, task factors under
tasks.<task>.encoder.layer.<l>.<matrix>.factor_a/_b or a shared basis under
sharing.encoder.layer.<l>.<matrix>.factor_a, layer attention under
tasks.<task>.layer_attention.weights/scale, heads under heads.<task>.classifier),
DIR/grads.safetensors (gradient of loss = CE(seq) + CE(tok) for every tensor,
dropout off, each task's batch run on its own path) and DIR/golden.json
(inputs, labels, loss, both tasks' logits).

The model is computed in float64 and the fixtures stored as float32, so the
goldens carry no float32 rounding of their own.

  /usr/bin/python3 tools/sharingref/sharing_reference.py --out model/testdata/sharing_per_task --basis per_task
  /usr/bin/python3 tools/sharingref/sharing_reference.py --out model/testdata/sharing_shared --basis shared

Needs Debian's python3-torch; no other dependency, no network.
"""
import argparse, json, math, os, struct
import torch

F = torch.float64
HF = {"query": "attention.self.query", "key": "attention.self.key", "value": "attention.self.value",
      "attention_output": "attention.output.dense", "ffn_in": "intermediate.dense", "ffn_out": "output.dense"}


def param(shape, std, gen):
    return (torch.randn(*shape, generator=gen, dtype=F) * std).requires_grad_()


def layer_norm(x, g, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * g + b


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


class Reference:
    def __init__(s, a, gen):
        s.a = a
        H, I, L = a.hidden, a.intermediate, a.layers
        s.p = {}  # taskweave name -> tensor

        def add(name, shape, std=0.2):
            s.p[name] = param(shape, std, gen)
            return s.p[name]
        add("embeddings.word_embeddings.weight", (a.vocab_size, H))
        add("embeddings.position_embeddings.weight", (a.max_pos, H))
        add("embeddings.token_type_embeddings.weight", (2, H))
        add("embeddings.LayerNorm.weight", (H,))
        add("embeddings.LayerNorm.bias", (H,))
        s.shape = {"query": (H, H), "key": (H, H), "value": (H, H), "attention_output": (H, H), "ffn_in": (I, H), "ffn_out": (H, I)}
        for l in range(L):
            p = f"encoder.layer.{l}."
            for m, (o, i) in s.shape.items():
                add(p + HF[m] + ".weight", (o, i))
                add(p + HF[m] + ".bias", (o,))
            for ln in ["attention.output.LayerNorm", "output.LayerNorm"]:
                add(p + ln + ".weight", (H,))
                add(p + ln + ".bias", (H,))
        add("pooler.dense.weight", (H, H))
        add("pooler.dense.bias", (H,))
        add("heads.seq.classifier.weight", (a.seq_labels, H))
        add("heads.seq.classifier.bias", (a.seq_labels,))
        add("heads.tok.classifier.weight", (a.tok_labels, H))
        add("heads.tok.classifier.bias", (a.tok_labels,))
        # Soft sharing. Every factor gets non-zero A and B, so that both
        # gradients are non-trivial (training starts with B = 0).
        s.tasks = {
            "seq": dict(rank=a.rank, matrices=a.seq_matrices.split(","), layer_attention=True),
            "tok": dict(rank=a.rank if a.basis == "shared" else a.rank - 1, matrices=a.tok_matrices.split(","),
                        layer_attention=a.tok_layer_attention),
        }
        used = sorted({m for t in s.tasks.values() for m in t["matrices"]}, key=list(HF).index)
        for l in range(L):
            if a.basis == "shared":
                for m in used:
                    add(f"sharing.encoder.layer.{l}.{HF[m]}.factor_a", (s.shape[m][0], a.rank), 0.3)
            for t, ts in s.tasks.items():
                for m in ts["matrices"]:
                    pre = f"tasks.{t}.encoder.layer.{l}.{HF[m]}."
                    if a.basis == "per_task":
                        add(pre + "factor_a", (s.shape[m][0], ts["rank"]), 0.3)
                    add(pre + "factor_b", (ts["rank"], s.shape[m][1]), 0.3)
        for t, ts in s.tasks.items():
            if ts["layer_attention"]:
                add(f"tasks.{t}.layer_attention.weights", (L + 1,), 1.0)
                s.p[f"tasks.{t}.layer_attention.scale"] = (1 + 0.3 * torch.randn(1, generator=gen, dtype=F)).requires_grad_()

    def weight(s, task, l, m):
        """W_t = W + A·B of matrix m in layer l on task's path."""
        w = s.p[f"encoder.layer.{l}.{HF[m]}.weight"]
        if m not in s.tasks[task]["matrices"]:
            return w
        pre = f"tasks.{task}.encoder.layer.{l}.{HF[m]}."
        A = s.p[f"sharing.encoder.layer.{l}.{HF[m]}.factor_a"] if s.a.basis == "shared" else s.p[pre + "factor_a"]
        return w + A @ s.p[pre + "factor_b"]

    def lin(s, task, l, m, x):
        return x @ s.weight(task, l, m).T + s.p[f"encoder.layer.{l}.{HF[m]}.bias"]

    def encode(s, task, ids, mask, types):
        a, p = s.a, s.p
        B, T = ids.shape
        H, A = a.hidden, a.heads
        d = H // A
        x = p["embeddings.word_embeddings.weight"][ids] + p["embeddings.position_embeddings.weight"][torch.arange(T)][None] + \
            p["embeddings.token_type_embeddings.weight"][types]
        x = layer_norm(x, p["embeddings.LayerNorm.weight"], p["embeddings.LayerNorm.bias"], 1e-12)
        hs = [x]
        keep = mask[:, None, None, :].bool()
        for l in range(a.layers):
            pre = f"encoder.layer.{l}."
            heads = lambda t: t.view(B, T, A, d).permute(0, 2, 1, 3)
            q, k, v = (heads(s.lin(task, l, m, x)) for m in ["query", "key", "value"])
            scores = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            scores = scores.masked_fill(~keep, float("-inf"))
            ctx = (torch.softmax(scores, -1) @ v).permute(0, 2, 1, 3).reshape(B, T, H)
            x = layer_norm(x + s.lin(task, l, "attention_output", ctx), p[pre + "attention.output.LayerNorm.weight"],
                           p[pre + "attention.output.LayerNorm.bias"], 1e-12)
            f = s.lin(task, l, "ffn_out", gelu(s.lin(task, l, "ffn_in", x)))
            x = layer_norm(x + f, p[pre + "output.LayerNorm.weight"], p[pre + "output.LayerNorm.bias"], 1e-12)
            hs.append(x)
        if s.tasks[task]["layer_attention"]:
            w = torch.softmax(p[f"tasks.{task}.layer_attention.weights"], 0)
            return p[f"tasks.{task}.layer_attention.scale"] * sum(w[j] * h for j, h in enumerate(hs))
        return hs[-1]

    def logits(s, task, ids, mask, types):
        h = s.encode(task, ids, mask, types)
        p = s.p
        if task == "seq":
            pooled = torch.tanh(h[:, 0] @ p["pooler.dense.weight"].T + p["pooler.dense.bias"])
            return pooled @ p["heads.seq.classifier.weight"].T + p["heads.seq.classifier.bias"]
        return h @ p["heads.tok.classifier.weight"].T + p["heads.tok.classifier.bias"]


def save_safetensors(path, tensors):
    header, offset, blobs = {"__metadata__": {"format": "pt"}}, 0, []
    for name in sorted(tensors):
        b = tensors[name].detach().contiguous().to(torch.float32).numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--basis", choices=["per_task", "shared"], required=True)
    ap.add_argument("--rank", type=int, default=3)
    ap.add_argument("--seq-matrices", default="query,value,ffn_in,attention_output")
    ap.add_argument("--tok-matrices", default="key,ffn_out,query")
    ap.add_argument("--tok-layer-attention", action="store_true")
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=16)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=32)
    ap.add_argument("--vocab-size", type=int, default=50)
    ap.add_argument("--max-pos", type=int, default=16)
    ap.add_argument("--seq-labels", type=int, default=3)
    ap.add_argument("--tok-labels", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--batch", type=int, default=3)
    ap.add_argument("--seq-len", type=int, default=8)
    a = ap.parse_args()
    gen = torch.Generator().manual_seed(a.seed)
    # Whole-encoder weights at 0.2 keep signal through two layers; the
    # values the Go model is compared with fit within 1e-5 in float32.
    ref = Reference(a, gen)
    B, T = a.batch, a.seq_len
    ids = torch.randint(1, a.vocab_size, (B, T), generator=gen)
    mask = torch.ones(B, T, dtype=torch.long)
    for b in range(1, B):
        mask[b, T - 2 * b:] = 0
        ids[b, T - 2 * b:] = 0
    types = torch.zeros(B, T, dtype=torch.long)
    types[0, T // 2:] = 1
    seq_y = torch.arange(B) % a.seq_labels
    tok_y = torch.randint(0, a.tok_labels, (B, T), generator=gen)
    tok_y[mask == 0] = -100
    tok_y[:, 0] = -100
    seq_logits = ref.logits("seq", ids, mask, types)
    tok_logits = ref.logits("tok", ids, mask, types)
    loss = torch.nn.functional.cross_entropy(seq_logits, seq_y) + \
        torch.nn.functional.cross_entropy(tok_logits.reshape(B * T, -1), tok_y.reshape(-1), ignore_index=-100)
    loss.backward()
    os.makedirs(a.out, exist_ok=True)
    save_safetensors(os.path.join(a.out, "model.safetensors"), ref.p)
    save_safetensors(os.path.join(a.out, "grads.safetensors"), {k: v.grad for k, v in ref.p.items()})
    cfg = dict(vocab_size=a.vocab_size, hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
               intermediate_size=a.intermediate, max_position_embeddings=a.max_pos, type_vocab_size=2,
               layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, hidden_act="gelu")
    with open(os.path.join(a.out, "sharing.json"), "w") as f:
        json.dump(dict(config=cfg, basis=a.basis, seq_labels=a.seq_labels, tok_labels=a.tok_labels, tasks=ref.tasks), f, indent=2)
    with open(os.path.join(a.out, "golden.json"), "w") as f:
        json.dump(dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), token_type_ids=types.tolist(),
                       seq_labels=seq_y.tolist(), tok_labels=tok_y.tolist(), loss=loss.item(),
                       seq_logits=seq_logits.tolist(), tok_logits=tok_logits.tolist()), f)
    print(f"wrote {a.out}: basis {a.basis}, {len(ref.p)} tensors, loss {loss.item():.6f}")


if __name__ == "__main__":
    main()
