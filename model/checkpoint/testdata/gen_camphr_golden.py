#!/usr/bin/env python3
"""Writes camphr_golden.json: token-classification logits of the camphr tiny
NER model (testdata/tiny_bert_camphr_ner) computed by the independent PyTorch
reference encoder of ../shared/reference/bert_reference.py.

  /usr/bin/python3 model/checkpoint/testdata/gen_camphr_golden.py \
      ../shared/reference model/checkpoint/testdata

Row 0 is "[CLS] This is a test [SEP]" as BertTokenizer encodes it with this
vocabulary (only single characters and specials: "this", "is", "test" are
[UNK], "a" is id 170), right-padded; row 1 is seeded random ids over the
whole 16 positions with token type 1 in its second half.
"""
import json, os, sys
import torch

sys.path.insert(0, sys.argv[1])
from bert_reference import Bert  # noqa: E402

out = sys.argv[2]
src = os.path.join(out, "tiny_bert_camphr_ner")
cfg = json.load(open(os.path.join(src, "config.json")))
sd = torch.load(os.path.join(src, "pytorch_model.bin"), map_location="cpu")
m = Bert(cfg)
with torch.no_grad():
    for name, p in m.hf_state("bert.").items():
        if name.startswith("bert.pooler"):
            continue  # BertForTokenClassification has no pooler
        p.copy_(sd[name])
cls = torch.nn.Linear(cfg["hidden_size"], sd["classifier.weight"].shape[0])
with torch.no_grad():
    cls.weight.copy_(sd["classifier.weight"])
    cls.bias.copy_(sd["classifier.bias"])
T = cfg["max_position_embeddings"]
torch.manual_seed(1)
ids = torch.zeros(2, T, dtype=torch.long)
ids[0, :6] = torch.tensor([101, 100, 100, 170, 100, 102])
ids[1] = torch.randint(0, cfg["vocab_size"], (T,))
mask = torch.zeros(2, T, dtype=torch.long)
mask[0, :6] = 1
mask[1] = 1
types = torch.zeros(2, T, dtype=torch.long)
types[1, T // 2:] = 1
m.eval()
with torch.no_grad():
    h, _ = m(ids, mask, types)
    logits = cls(h)
json.dump(dict(input_ids=ids.tolist(), attention_mask=mask.tolist(), token_type_ids=types.tolist(),
               tok_cls_logits=logits.tolist()), open(os.path.join(out, "camphr_golden.json"), "w"))
