#!/usr/bin/env python3
"""Makes the embedding goldens once (committed under tests/data/embedding-goldens):
sentence-transformers (torch, CPU, fp32) embeds the selected fixture texts and
the capsule-search queries with each model. CI compares against these files and
never installs torch. Run after a build and scripts/fetch-models.sh:

    python3 -m venv .venv-ref && .venv-ref/bin/pip install torch sentence-transformers numpy
    HF_HUB_OFFLINE=1 .venv-ref/bin/python tests/oracle/make_embedding_goldens.py
"""
import json
import os
import sys

import numpy as np
import sentence_transformers
import torch
from sentence_transformers import SentenceTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import embed_common as ec  # noqa: E402

torch.manual_seed(0)
os.makedirs(ec.GOLDEN_DIR, exist_ok=True)
chosen, search = ec.select_texts()
texts = [c["text"] for c in chosen] + [s["text"] for s in search]
for name in ec.GOLDEN_MODELS:
    folder = os.path.join(ec.MODELS, name)
    model = SentenceTransformer(folder, device="cpu")
    vecs = model.encode(texts, batch_size=16, convert_to_numpy=True, normalize_embeddings=False, show_progress_bar=False)
    vecs = vecs.astype(np.float32)
    meta = {
        "model": name,
        "weightsSha256": ec.model_sha(folder),
        "maxSeqLength": model.max_seq_length,
        "reference": f"sentence-transformers {sentence_transformers.__version__}, torch {torch.__version__}, CPU fp32",
        "dimension": int(vecs.shape[1]),
        "texts": [{"fixture": c["fixture"], "uri": c["uri"], "sha256": ec.sha(c["text"]), "chars": len(c["text"])} for c in chosen],
        "search": [{"uri": s["uri"], "sha256": ec.sha(s["text"])} for s in search],
    }
    with open(os.path.join(ec.GOLDEN_DIR, name + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
    vecs.tofile(os.path.join(ec.GOLDEN_DIR, name + ".f32"))
    print(f"{name}: {vecs.shape[0]} vectors of {vecs.shape[1]}")
