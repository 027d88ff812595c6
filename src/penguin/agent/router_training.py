"""Building the router's artefact (``penguin raise build-router``): data, fit, calibration, card.

Training data ships in the package (``data/router/``, labelled by the rule in its LABELS.md):
authored direct, agent, crisis and hard-negative messages, short conversations (the user's side; in
a contrastive pair, a means question followed by hopelessness or by an ordinary reason, the question
alone is also an agent example, so only the replies can make it a crisis), the bundled query bank as
agent examples, and *answered* conversations: a query followed by 1-3 of the replies people give to
RAISE's attribute questions (authored ones in ``replies.jsonl``: terse, declined, unsure, ordinary
disclosures; and the simulated user's own "I'd say: <value>."). Without them the router had only
seen replies inside distress or crisis conversations and sent most ordinary answered dialogues
("Should I tell my boss about my diagnosis?" / "No") to the crisis path. The replies are also
trained alone, as ordinary answers (see ``reply_items``). An answered conversation keeps its query's
label (crisis stays crisis; otherwise agent: a reply never makes a request direct). Every item lands
in train (70%), calibration (15%) or test (15%) by a hash of its text; bank queries follow RAISE's
query split (plan -> train, dev -> calibration, online -> test), so the online split the RAISE
evaluation uses is never trained on. The independent evaluation sets (``data/eval/``) are never
trained on either.

The classifier fine-tunes the top ``TOP_LAYERS`` layers of all-MiniLM-L6-v2 with a linear head on
its mean-pooled embedding (cross-entropy with balanced class weights, AdamW, a fixed seed and
order); a conversation is trained and judged as one text, its messages joined (see router.py).
The encoder is then exported as ONNX with int8 weights, the form the router runs (embeddings.py
says why), and the head is refitted on that encoder's vectors; calibration and every rate in the
card use the int8 encoder, so they describe what ships.
Measured on this data
at the same crisis recall, a linear head on the frozen embeddings raised 15-23% false alarms on
the hard negatives and sent 15-25% of PENGUIN's own queries to the crisis path; the fine-tuned
layers cut those to about 5% and 1-2%.
Four thresholds are then chosen on the calibration split, safety first:
- crisis (a message the user wrote): the largest threshold on P(passive) + P(imminent) that keeps
  the single messages' recall at CRISIS_RECALL for both levels, unless that would raise more than
  ALARM_CAP false alarms on the hard negatives; then the ALARM_CAP point (measured: a few crisis
  messages the model firmly calls ordinary pulled a recall-only threshold down to 0.03, and 8%
  of ordinary distress to the crisis answer);
- direct: a query is answered directly only when P(direct) >= t; t is the lowest value that still
  keeps RISKY_RECALL of the authored personal requests (agent-labelled hard negatives included)
  and BANK_RECALL of the PENGUIN queries off the direct path (any lower t would answer more benign
  requests at once, but risky ones too). Off the direct path means to the agent or to crisis, so
  the card's "risky requests sent to the agent", which counts the agent route alone, reads lower
  (93.9% on the calibration split of the shipped build);
- conversation (the query and its replies read as one text), then reply (a reply alone): each the
  lowest threshold that adds at most ADDED_FALSE_ALARMS false alarms on the ordinary answered
  conversations (they only add crises).
The build is deterministic on one machine (fixed seed, order and threads); torch builds for other
CPUs may differ in the last digits, so tests check the artefact's behaviour, not its bytes. The int8
maths may differ more on x86 CPUs without VNNI (onnxruntime's u8s8 kernels can saturate there);
the shipped rates were measured on a CPU with VNNI.
Four things that did not help (measured on the seed-3 build's test items unless said; risky requests
to the agent / benign requests to the agent, that build 93.4% / 2.1%):
- an MLP head (one hidden layer of 256 or 512) on the int8 encoder's vectors, its direct threshold
  set by ``calibrate``: 93.4-93.7% / 2.1-2.4% (a 4-class MLP: 92.5% / 1.8%);
- more authored training data of the kinds the router gets wrong (300 crisis look-alikes labelled
  agent, 300 impersonal "how much X do I need" and dark-verb tasks, 150 look-alike pairs of a
  personal alcohol, drug, bet or dose request and its harmless twin), rebuilt with the same seed:
  94.5% / 3.3% with imminent recall down to 93.4% (shipped 95.6%), or without the pairs 92.5% / 4.5%;
- a lexical model beside the encoder (a logistic regression on hashed word 1-2-grams and character
  2-5-grams, tf-idf weighted, trained on the training split) averaged half and half into P(direct),
  its threshold set by ``calibrate``: 94.2% / 2.1%, but 2.5% of the independent benign requests to
  the agent (1.5% without it); averaged into the crisis score, it raised imminent recall at the 5%
  alarm cap on the calibration split (94.2% to 96.1%, single messages, no lexical floor) and lowered
  it on the test split (95.4% to 94.0%);
- fine-tuning all six layers or only the top two (seed 3), judged on the calibration split alone:
  92.6% / 8.1% and 92.9% / 4.3% there (the shipped build 93.9% / 4.0%), with 5.3% and 3.4% of risky
  requests routed to crisis (2.1%) and, with two layers, imminent recall 93.1% (94.5%).
One faster export was measured and not shipped: traced with eager attention and fused by
onnxruntime's transformer optimizer before quantizing (one int8 attention operator per layer), the
base encoder ran in 4.98 ms p50 against 5.77 ms as exported here (400 messages, one thread, a
2-core host where the router takes about 6 ms), at the same mean cosine to torch fp32 (0.9941,
0.9942). Rebuilt that way with seed 3, the router's test rates moved by an item or two (benign to
the agent 8 of 330 against 7, passive recall 109 of 114 against 110), but the sleeping-pill
question followed by "yes, I have depression and I feel hopeless" went to the agent (tests/
test_router.py): a change of numerics is a new build, with its own behaviour to check.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import partial
from importlib import resources
from pathlib import Path

import numpy as np

from ..crisis import floor_digest
from ..dataset.query_bank import query_bank
from ..dataset.splits import split_of
from ..errors import ConfigError, DataError
from ..evaluation.summary import proportion_interval
from ..files import atomic_writer, read_rows
from ..schema import VALUE_SETS
from .router import (ARTEFACT, CLASSES, ENCODER, RouterModel, classify, conversation_text, decide, encoder_digest,
                     texts_to_embed)
from .user import DECLINE_REPLY

CRISIS_RECALL = {"imminent": 0.97, "passive": 0.90}
RISKY_RECALL = 0.97
BANK_RECALL = 0.985
SPLITS = ("train", "calibration", "test")
ALARM_CAP = 0.05
"""The crisis threshold never lets calibration false alarms on the hard negatives exceed this."""
ADDED_FALSE_ALARMS = 0.01
ANSWERED_SHARE = 0.25
"""Share of single-message queries that also appear as an answered conversation."""


@dataclass
class Item:
    texts: list[str]
    """One message, or a conversation's user messages in order."""
    label: str
    """direct, agent, passive or imminent."""
    source: str
    """Which file or set it came from: direct, agent, crisis, hard_negative, conversation, bank, benign, probe."""
    kind: str
    split: str


def data_dir() -> Path:
    return Path(str(resources.files("penguin").joinpath("data/router")))


def eval_dir() -> Path:
    return Path(str(resources.files("penguin").joinpath("data/eval")))


def _split(text: str) -> str:
    bucket = int(hashlib.sha256(text.strip().lower().encode()).hexdigest(), 16) % 20
    return "train" if bucket < 14 else "calibration" if bucket < 17 else "test"


def _label(row: dict) -> str:
    return row["level"] if row["label"] == "crisis" else row["label"]


def load_items() -> list[Item]:
    """Every labelled item, with its split. Texts of the evaluation sets are kept out of training."""
    held_out = {r["query"].strip().lower() for name in ("benign", "risky") for _, r in read_rows(eval_dir() / f"{name}.jsonl")}
    held_out |= {r["text"].strip().lower() for name in ("router_probe.jsonl", "router_boundary.jsonl",
                                                        *WRITTEN_BLIND.values())
                 for _, r in read_rows(eval_dir() / name)}
    items: list[Item] = []
    for name, source in (("direct", "direct"), ("agent", "agent"), ("crisis", "crisis"),
                         ("hard_negatives", "hard_negative")):
        for _, row in read_rows(data_dir() / f"{name}.jsonl"):
            if row["text"].strip().lower() in held_out:
                continue
            items.append(Item([row["text"]], _label(row), source, row["kind"], _split(row["text"])))
    for _, row in read_rows(data_dir() / "conversations.jsonl"):
        split = _split("\n".join(row["turns"]))
        items.append(Item(list(row["turns"]), _label(row), "conversation", row["kind"], split))
        if "query_alone" in row:  # a contrastive pair: the same kind of query, the replies decide
            items.append(Item([row["turns"][0]], row["query_alone"], "conversation", f"{row['kind']}_query", split))
    bank_split = {"plan": "train", "dev": "calibration", "online": "test"}
    for leaf, queries in sorted(query_bank().items()):
        for q in queries:
            items.append(Item([q], "agent", "bank", leaf, bank_split[split_of(q)]))
    replies = load_replies()
    return items + reply_items(replies, held_out) + answered_conversations(items, replies)


def reply_items(replies: list[tuple[str, str]], held_out: set[str]) -> list[Item]:
    """Each reply alone, as an ordinary answer (agent). ``decide`` judges a reply on its own too,
    and an encoder that had never seen one alone scored "I'd say: Happiness." 0.99 crisis, so no
    reply threshold under 1 kept false alarms down. Authored replies keep their split; the
    formulaic ones (in every split) are trained on only."""
    every = Counter(t for t, _ in replies)
    return [Item([t], "agent", "reply", "reply", split) for t, split in replies
            if t.strip().lower() not in held_out and (every[t] < len(SPLITS) or split == "train")]


def load_replies(path: Path | None = None) -> list[tuple[str, str]]:
    """(reply, split): the authored replies, each in one split by its text's hash, and the
    simulated user's formulaic replies (plain values, decline, unsure) in every split."""
    rows = [(r["text"], _split(r["text"])) for _, r in read_rows(path or data_dir() / "replies.jsonl")]
    formulaic = [f"I'd say: {v}." for values in VALUE_SETS.values() for v in values] + [DECLINE_REPLY, "I'm not sure."]
    return rows + [(t, s) for t in formulaic for s in SPLITS]


def answered_conversations(items: list[Item], replies: list[tuple[str, str]], share: float = ANSWERED_SHARE,
                           seed: int = 0) -> list[Item]:
    """A ``share`` of the single-message queries again, each followed by 1-3 replies from its own
    split (so no test conversation reuses a trained authored reply). Deterministic."""
    import random

    by_split = {s: [t for t, sp in replies if sp == s] for s in SPLITS}
    out = []
    for it in items:
        if len(it.texts) != 1 or it.source == "reply" or it.split not in by_split or not by_split[it.split]:
            continue
        rng = random.Random(f"{seed}:{it.texts[0]}")
        if rng.random() >= share:
            continue
        picked = rng.sample(by_split[it.split], k=min(rng.choice((1, 1, 2, 2, 3)), len(by_split[it.split])))
        label = it.label if it.label in ("imminent", "passive") else "agent"
        out.append(Item([it.texts[0], *picked], label, "answered", it.source, it.split))
    return out


def eval_items() -> list[Item]:
    """The independent sets: benign everyday requests, risky personal requests, the outside-style
    probe and dialogues."""
    items = [Item([r["query"]], "direct", "benign", r["kind"], "eval") for _, r in read_rows(eval_dir() / "benign.jsonl")]
    items += [Item([r["query"]], "agent", "risky", r["kind"], "eval") for _, r in read_rows(eval_dir() / "risky.jsonl")]
    items += [Item([r["text"]], _label(r), "probe", r["kind"], "eval")
              for _, r in read_rows(eval_dir() / "router_probe.jsonl")]
    items += [Item(list(r["turns"]), _label(r), "dialogue", r["kind"], "eval")
              for _, r in read_rows(eval_dir() / "router_conversations.jsonl")]
    return items


def boundary_items() -> list[Item]:
    """The boundary set, written after the router was built, from LABELS.md alone, to probe the
    line between agent and direct: personal requests that look like shopping or how-to (a cider
    for a picnic, a first time with edibles, matched betting), impersonal ones that name risky
    things (ethanol's azeotrope, a red-wine stain, blackjack odds) (``group`` lookalike), and
    ordinary personal and impersonal requests (``everyday``); the card's categories name the group.
    Reported on its own: it is harder than the other sets."""
    items = []
    for where, r in read_rows(eval_dir() / "router_boundary.jsonl"):
        if r.get("label") not in ("agent", "direct"):
            raise DataError(f"{where}: field 'label': {r.get('label')!r} is not agent or direct")
        if r.get("group") not in ("lookalike", "everyday"):
            raise DataError(f"{where}: field 'group': {r.get('group')!r} is not lookalike or everyday")
        for field in ("text", "kind"):
            if not isinstance(r.get(field), str) or not r[field].strip():
                raise DataError(f"{where}: field {field!r}: missing or empty")
        items.append(Item([r["text"]], r["label"], "risky" if r["label"] == "agent" else "benign",
                          f"{r['group']}/{r['kind']}", "eval"))
    return items


WRITTEN_BLIND = {
    "explicit": "router_explicit.jsonl",
    "languages": "router_languages.jsonl",
}
"""Sets written after the router was built, by authors who saw neither its data nor the lexical
floor: ``explicit``, crises said outright in outside style (overdoses taken on purpose, amounts
"to die" with the means at hand, harm to someone named), 42 of them in Spanish, French, Portuguese,
German or Italian, and look-alikes that share their words (hyperbole, accidental double doses, a
friend at risk, pet toxicity, fiction, video games); the floor's English patterns for acts on
purpose were written before it was read, its patterns in the other languages after (so on those
lines it is not blind); ``languages``, 60 messages in each of those five languages (crises,
look-alikes, everyday requests), read only after the floor's patterns were written."""


def written_blind_items(name: str) -> list[Item]:
    """One of the WRITTEN_BLIND sets: crisis rows (with a ``level``) as crisis, the others as the
    benign (direct) or risky (agent) requests the card counts; a row's ``lang``, when given, leads
    its kind."""
    items = []
    for where, r in read_rows(eval_dir() / WRITTEN_BLIND[name]):
        label = r.get("level") if r.get("label") == "crisis" else r.get("label")
        if label not in CLASSES:
            raise DataError(f"{where}: field 'label': {r.get('label')!r} (level {r.get('level')!r}) is not direct, "
                            "agent, or crisis with a level of passive or imminent")
        for field in ("text", "kind"):
            if not isinstance(r.get(field), str) or not r[field].strip():
                raise DataError(f"{where}: field {field!r}: missing or empty")
        source = {"direct": "benign", "agent": "risky"}.get(label, "crisis")
        kind = f"{r['lang']}/{r['kind']}" if r.get("lang") else r["kind"]
        items.append(Item([r["text"]], label, source, kind, "eval"))
    return items


def _scores(model: RouterModel, items: list[Item], vectors: list[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Per item, as ``decide`` computes them (no floor): the query's crisis score, the
    conversation's read whole and the loudest reply's alone (0 for a single message), and the
    query's P(direct)."""
    query, joined, loud, direct = [], [], [], []
    for it, v in zip(items, vectors):
        p = model.probabilities(v)
        n = len(it.texts)
        danger = p[:, 2] + p[:, 3]
        query.append(float(danger[0]))
        joined.append(float(danger[n]) if n > 1 else 0.0)
        loud.append(float(danger[1:n].max()) if n > 1 else 0.0)
        direct.append(float(p[0, 0]))
    return np.array(query), np.array(joined), np.array(loud), np.array(direct)


def _adding_at_most(ordinary: np.ndarray, quiet: np.ndarray, scores: np.ndarray, floor: float) -> float:
    """The lowest threshold (from ``floor``, step 0.01) at which ``scores`` add at most
    ADDED_FALSE_ALARMS false alarms to the ordinary conversations that are still quiet."""
    for t in np.round(np.arange(np.ceil(floor * 100 - 1e-9) / 100, 1.0, 0.01), 2):  # never below the floor
        if ordinary.any() and (quiet & (scores >= t)).sum() / ordinary.sum() <= ADDED_FALSE_ALARMS:
            return float(t)
    return 1.0


def calibrate(model: RouterModel, items: list[Item], vectors: list[np.ndarray]) -> dict[str, float]:
    """The four thresholds from the calibration split (see the module docstring)."""
    cal = [i for i, it in enumerate(items) if it.split == "calibration"]
    query, joined, loud, direct = _scores(model, [items[i] for i in cal], [vectors[i] for i in cal])
    labels = np.array([items[i].label for i in cal])
    sources = np.array([items[i].source for i in cal])
    single = np.array([len(items[i].texts) == 1 for i in cal])
    t_crisis = 1.0
    for level, target in CRISIS_RECALL.items():
        s = np.sort(query[single & (labels == level)])
        t_crisis = min(t_crisis, float(s[int(np.floor((1 - target) * len(s)))]) if len(s) else 1.0)
    hard = single & (sources == "hard_negative")
    if hard.any() and (query[hard] >= t_crisis).mean() > ALARM_CAP:
        t_crisis = float(np.quantile(query[hard], 1 - ALARM_CAP, method="higher"))
    risky = (labels == "agent") & np.isin(sources, ["agent", "hard_negative", "conversation"])
    bank = sources == "bank"
    # direct iff P(direct) >= t: raise t until the risky side is safe enough, no further
    t_direct = 0.5
    for t in np.linspace(0.3, 0.995, 140):
        if (direct[risky] < t).mean() >= RISKY_RECALL and (direct[bank] < t).mean() >= BANK_RECALL:
            t_direct = float(t)
            break
    else:
        t_direct = 0.995
    # the conversation read whole, then a reply alone: each may add at most ADDED_FALSE_ALARMS
    ordinary = (labels == "agent") & ~single
    quiet = ordinary & (query < t_crisis)
    t_conversation = _adding_at_most(ordinary, quiet, joined, t_crisis)
    quiet &= joined < t_conversation
    t_reply = _adding_at_most(ordinary, quiet, loud, t_crisis)
    return {"crisis": round(t_crisis, 4), "direct": round(t_direct, 4), "conversation": t_conversation,
            "reply": t_reply}


RISKY = ("agent:", "conversation:", "risky:")
"""Personal requests (and conversations) that belong with the agent: not direct, not a crisis."""
REPLIED = ("answered:", "dialogue:")
"""Conversations whose replies answer the agent's questions; their rates are reported apart."""


def evaluate(model: RouterModel, items: list[Item], vectors: list[np.ndarray]) -> dict:
    """Routes per (source, kind) on the given items (floor included), the headline rates, and a
    fingerprint of the classifier's own decisions (``classify``, no floor): the same fingerprint
    on another machine means the same decisions on these items, whatever the floor does."""
    table: dict[str, Counter] = defaultdict(Counter)
    fingerprint = hashlib.sha256()
    for it, v in zip(items, vectors):
        d = decide(model, it.texts[0], it.texts[1:], [], v)
        table[f"{it.source}:{it.kind}:{it.label}"][d.route] += 1
        own = classify(model, it.texts[0], it.texts[1:], [], v)
        fingerprint.update(f"{own.route}:{own.level}\n".encode())

    def rate(pred, route):  # noqa: ANN001, ANN202
        rows = [c for k, c in table.items() if pred(k)]
        total = sum(sum(c.values()) for c in rows)
        count = sum(c[route] for c in rows)
        return {"n": total, "count": count, "rate": round(count / total, 4) if total else None}
    return {
        "imminent_recall": rate(lambda k: k.endswith(":imminent") and not k.startswith(REPLIED), "crisis"),
        "passive_recall": rate(lambda k: k.endswith(":passive") and not k.startswith(REPLIED), "crisis"),
        "hard_negative_false_alarms": rate(lambda k: k.startswith("hard_negative:"), "crisis"),
        "benign_to_agent": rate(lambda k: k.endswith(":direct") and not k.startswith("hard_negative"), "agent"),
        "benign_to_crisis": rate(lambda k: k.endswith(":direct") and not k.startswith("hard_negative"), "crisis"),
        "answered_to_crisis": rate(lambda k: k.startswith("answered:") and k.endswith(":agent"), "crisis"),
        "replies_to_crisis": rate(lambda k: k.startswith("reply:"), "crisis"),
        "answered_crisis_recall": rate(lambda k: k.startswith("answered:") and not k.endswith(":agent"), "crisis"),
        "conversations_to_crisis": rate(lambda k: k.startswith("dialogue:") and k.endswith(":agent"), "crisis"),
        "conversations_crisis_recall": rate(lambda k: k.startswith("dialogue:") and not k.endswith(":agent"),
                                            "crisis"),
        "crisis_answered_directly": rate(lambda k: k.endswith((":imminent", ":passive")) and not k.startswith(REPLIED),
                                         "direct"),
        "risky_to_agent": rate(lambda k: k.startswith(RISKY) and k.endswith(":agent"), "agent"),
        "risky_to_direct": rate(lambda k: k.startswith(RISKY) and k.endswith(":agent"), "direct"),
        "risky_to_crisis": rate(lambda k: k.startswith(RISKY) and k.endswith(":agent"), "crisis"),
        "penguin_to_agent": rate(lambda k: k.startswith("bank:"), "agent"),
        "penguin_to_direct": rate(lambda k: k.startswith("bank:"), "direct"),
        "by_category": {k: dict(sorted(c.items())) for k, c in sorted(table.items()) if not k.startswith("bank:")},
        "classifier_sha256": fingerprint.hexdigest(),
    }


TOP_LAYERS = 3
EPOCHS = 4
SEED = 3


def finetune(items: list[Item], *, top: int = TOP_LAYERS, epochs: int = EPOCHS, seed: int = SEED,
             progress=None):  # noqa: ANN001, ANN201 - a callback; (encoder, head)
    """Fine-tune the top ``top`` layers and a linear head on the training split."""
    import copy

    import torch

    from .embeddings import embedding_model, mean_pooled

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    base = embedding_model()
    tokenizer, encoder = base.tokenizer, copy.deepcopy(base[0].auto_model)
    layers = encoder.encoder.layer
    for p in encoder.parameters():
        p.requires_grad = False
    for layer in layers[len(layers) - top:]:
        for p in layer.parameters():
            p.requires_grad = True
    head = torch.nn.Linear(384, len(CLASSES))
    train = [it for it in items if it.split == "train"]
    y = torch.tensor([CLASSES.index(it.label) for it in train])
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    loss_fn = torch.nn.CrossEntropyLoss(weight=counts.sum() / (len(CLASSES) * counts.clamp(min=1)))
    opt = torch.optim.AdamW([{"params": [p for p in encoder.parameters() if p.requires_grad], "lr": 1e-4},
                             {"params": list(head.parameters()), "lr": 2e-3}], weight_decay=0.01)
    rng = np.random.default_rng(seed)
    encoder.train()
    for epoch in range(epochs):
        order = rng.permutation(len(train))
        for b in range(0, len(order), 32):
            batch = [train[i] for i in order[b:b + 32]]
            vectors = _vectors_of(batch, lambda texts: mean_pooled(encoder, tokenizer, texts))
            loss = loss_fn(head(vectors), y[order[b:b + 32]])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if progress:
            progress(epoch)
    encoder.eval()
    return encoder, head


def _vectors_of(batch: list[Item], encode):  # noqa: ANN001, ANN202 - tensors in, one row per item
    """One row per item: a message, or a conversation read as one text (as ``decide`` reads it)."""
    return encode([it.texts[0] if len(it.texts) == 1 else conversation_text(it.texts[0], it.texts[1:])
                   for it in batch])


def _message_vectors(items: list[Item], encode) -> list[np.ndarray]:  # noqa: ANN001 - texts -> unit vectors
    """Each item's messages embedded (unit vectors, one row per text of ``texts_to_embed``)."""
    embed = [texts_to_embed(it.texts[0], it.texts[1:], []) for it in items]
    texts = sorted({t for e in embed for t in e})
    table = dict(zip(texts, encode(texts)))
    return [np.stack([table[t] for t in e]) for e in embed]


def export_onnx(encoder, path: Path, *, int8: bool = True) -> None:  # noqa: ANN001 - a transformers model
    """An encoder as ONNX, with int8 weights (per channel) as the router runs it, or as it is."""
    import shutil
    import tempfile
    import warnings

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class LastHidden(torch.nn.Module):
        def __init__(self, inner) -> None:  # noqa: ANN001
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):  # noqa: ANN001, ANN201
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    example = (torch.ones(1, 8, dtype=torch.long), torch.ones(1, 8, dtype=torch.long))
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
            "hidden": {0: "batch", 1: "tokens"}}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)  # notes on control flow it does not need
        warnings.filterwarnings("ignore", module=r"torch\.onnx")  # the legacy exporter's own notices
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript", category=DeprecationWarning)
        fp32 = Path(tmp) / "encoder.onnx"
        torch.onnx.export(LastHidden(encoder).eval(), example, str(fp32), input_names=["input_ids", "attention_mask"],
                          output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False)
        if int8:
            quiet = logging.getLogger()  # the quantizer logs a pre-processing tip to the root logger
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            try:
                quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=True)
            finally:
                quiet.setLevel(level)
        else:
            shutil.move(fp32, path)


def refit_head(head, items: list[Item], vectors: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001
    """The linear head refitted, from its fine-tuned weights, on the int8 encoder's training
    vectors: the head must read the vectors the shipped encoder makes, not the fp32 ones."""
    import torch

    train = [i for i, it in enumerate(items) if it.split == "train"]
    x = torch.tensor(np.stack([vectors[i][-1] for i in train]))  # the message, or the conversation read whole
    y = torch.tensor([CLASSES.index(items[i].label) for i in train])
    counts = torch.bincount(y, minlength=len(CLASSES)).float()
    loss_fn = torch.nn.CrossEntropyLoss(weight=counts.sum() / (len(CLASSES) * counts.clamp(min=1)))
    refit = torch.nn.Linear(x.shape[1], len(CLASSES))
    refit.load_state_dict(head.state_dict())
    opt = torch.optim.LBFGS(refit.parameters(), max_iter=100, line_search_fn="strong_wolfe")

    def closure():  # noqa: ANN202
        opt.zero_grad()
        loss = loss_fn(refit(x), y) + 1e-4 * refit.weight.pow(2).sum()
        loss.backward()
        return loss
    opt.step(closure)
    return refit.weight.detach().numpy().astype(np.float32), refit.bias.detach().numpy().astype(np.float32)


def build(out: Path | None = None, *, top: int = TOP_LAYERS, epochs: int = EPOCHS, seed: int = SEED,
          progress=None) -> dict:  # noqa: ANN001
    """Fine-tune, export the encoder as int8 ONNX, refit the head on its vectors, calibrate and
    evaluate; write the artefact (head, thresholds, card) and the encoder."""
    items = load_items()
    encoder, head = finetune(items, top=top, epochs=epochs, seed=seed, progress=progress)
    folder = out or data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    part, card_part = folder / f".{ENCODER}.part", folder / f".{ARTEFACT}.part"
    try:
        return _calibrated(items, encoder, head, folder, part, card_part, top=top, epochs=epochs, seed=seed)
    finally:
        part.unlink(missing_ok=True)
        card_part.unlink(missing_ok=True)


def _calibrated(items: list[Item], encoder, head, folder: Path, part: Path, card_part: Path, *, top: int,  # noqa: ANN001
                epochs: int, seed: int) -> dict:
    """``build`` after fine-tuning: export, refit, calibrate, evaluate, then put both files in place
    (the card written first, the encoder swapped in, the card last: a crash leaves the old pair,
    or an encoder the old card's hash refuses)."""
    from .embeddings import onnx_encoder

    export_onnx(encoder, part)
    encoder_bytes = part.read_bytes()  # read once: the card hashes the bytes that were measured
    encode = onnx_encoder(encoder_bytes, threads=2)
    vectors = _message_vectors(items, encode)
    coef, intercept = refit_head(head, items, vectors)
    thresholds = calibrate(RouterModel(coef, intercept, CLASSES, 1.0, 1.0, {}), items, vectors)
    model = RouterModel(coef, intercept, CLASSES, thresholds["crisis"], thresholds["direct"], {},
                        reply_threshold=thresholds["reply"], conversation_threshold=thresholds["conversation"])
    test = [i for i, it in enumerate(items) if it.split == "test"]
    extra, boundary = eval_items(), boundary_items()
    extra_vectors = _message_vectors(extra, encode)
    n_layers = len(encoder.encoder.layer)
    card = {
        "embedding_model": "all-MiniLM-L6-v2",
        "classifier": f"top {top} of {n_layers} layers fine-tuned for {epochs} epochs with a linear head over the "
                      f"mean-pooled embedding; balanced class weights; AdamW, seed {seed}; exported as ONNX with int8 "
                      "weights (per channel), the head then refitted on the int8 encoder's vectors",
        "data_sha256": _data_digest(items),
        "encoder_sha256": encoder_digest(encoder_bytes),
        "floor_sha256": floor_digest(),
        "sizes": {s: dict(Counter(it.source for it in items if it.split == s)) for s in SPLITS},
        "targets": {"crisis_recall": CRISIS_RECALL, "risky_recall": RISKY_RECALL, "bank_recall": BANK_RECALL,
                    "alarm_cap": ALARM_CAP, "added_false_alarms": ADDED_FALSE_ALARMS},
        "test": evaluate(model, [items[i] for i in test], [vectors[i] for i in test]),
        "independent": evaluate(model, extra, extra_vectors),
        "boundary": evaluate(model, boundary, _message_vectors(boundary, encode)),
    }
    artefact = {"classes": list(CLASSES), "thresholds": thresholds,
                "top_layers": top, "coef": [[round(float(x), 6) for x in row] for row in coef],
                "intercept": [round(float(x), 6) for x in intercept], "card": card}
    card_part.write_text(_artefact_json(artefact), "utf-8")
    part.replace(folder / ENCODER)
    card_part.replace(folder / ARTEFACT)
    return artefact


LATER_SETS = {"boundary": boundary_items, **{name: partial(written_blind_items, name) for name in WRITTEN_BLIND}}
"""Evaluation sets written after the shipped artefact was built, that ``remeasure`` can add."""


def remeasure(folder: Path | None = None, *, sections: tuple[str, ...] = tuple(LATER_SETS)) -> dict:
    """Measure a built artefact again without retraining and write the figures into its card: the
    sets added after its build (``sections``), and the test and independent sets anew, since their
    rates include the lexical floor and the language check, which may have changed since. Only if
    the training data is the one it was built on and the classifier still decides the test and
    independent items as it did (the card's fingerprint of its own decisions; a card without one
    must reproduce every rate it holds, so its floor must be the one it was measured with), so the
    figures describe the same model. Returns the artefact."""
    unknown = [name for name in sections if name not in LATER_SETS]
    if unknown:
        raise ConfigError(f"cannot remeasure {', '.join(unknown)}: the sets added after a build are "
                          f"{', '.join(LATER_SETS)}")
    folder = folder or data_dir()
    model = RouterModel.load(folder)
    artefact = model.card  # router.json as loaded, read once: the model and the card written back agree
    card = artefact["card"]
    items = load_items()
    if _data_digest(items) != card["data_sha256"]:
        raise DataError(f"{folder / ARTEFACT}: built on other training data; rebuild with penguin raise build-router")
    encode = model.encode_function(threads=2)
    test, extra = [it for it in items if it.split == "test"], eval_items()
    fresh = {}
    for name, its in (("test", test), ("independent", extra)):
        fresh[name] = evaluate(model, its, _message_vectors(its, encode))
        stored = card[name]
        same = (fresh[name]["classifier_sha256"] == stored["classifier_sha256"] if "classifier_sha256" in stored
                else all(fresh[name].get(k) == v for k, v in stored.items()))  # rates added since may be missing
        if not same:
            raise DataError(f"{folder / ARTEFACT}: its {name} decisions no longer reproduce on this machine (int8 "
                            "results can differ between CPUs, e.g. with and without VNNI); rebuild it here")
    changed = {name for name in fresh if _rates(fresh[name]) != _rates(card[name])}
    for name in sections:
        its = LATER_SETS[name]()
        fresh[name] = evaluate(model, its, _message_vectors(its, encode))
    card.update(fresh)
    card["floor_sha256"] = floor_digest()
    card["remeasured"] = sorted(set(card.get("remeasured", [])) | set(sections) | changed)
    with atomic_writer(folder / ARTEFACT) as fh:  # a crash leaves the artefact as it was
        fh.write(_artefact_json(artefact))
    return artefact


def _rates(section: dict) -> dict:
    """A card section without its fingerprint: what a reader compares."""
    return {k: v for k, v in section.items() if k != "classifier_sha256"}


def _artefact_json(artefact: dict) -> str:
    """router.json as the build writes it (one compact line)."""
    return json.dumps(artefact, indent=None, separators=(",", ":")) + "\n"


def _data_digest(items: list[Item]) -> str:
    """What the card records of the training data (texts, labels and splits, in order)."""
    data_hash = hashlib.sha256()
    for it in items:
        data_hash.update(json.dumps([it.texts, it.label, it.split]).encode())
    return data_hash.hexdigest()


def _targets(t: dict) -> str:
    crisis = ", ".join(f"{level} recall {v:.0%}" for level, v in t["crisis_recall"].items())
    return (f"{crisis}; risky requests to the agent {t['risky_recall']:.1%}, PENGUIN queries {t['bank_recall']:.1%}; "
            f"hard-negative false alarms at most {t['alarm_cap']:.0%} (this cap wins over recall); the conversation "
            f"and a reply alone each add at most {t['added_false_alarms']:.0%}")


SECTIONS = {"test": "Held-out test split of the authored data",
            "independent": "Independent sets (written apart from the training data)",
            "boundary": "Boundary set (personal requests that look like shopping or how-to, impersonal ones "
                        "that name risky things, and ordinary ones of both kinds; written apart from the "
                        "training data)",
            "explicit": "Explicit set (crises said outright, 42 in Spanish, French, Portuguese, German or "
                        "Italian, and look-alikes that share their words; written apart from the training data "
                        "and the lexical floor, whose patterns in those languages were written after reading it)",
            "languages": "Languages set (60 messages in each of Spanish, French, Portuguese, German and Italian: "
                         "crises, look-alikes and everyday requests; read only after the lexical floor was written; "
                         "the classifier reads English only, so a query read as another language is never answered "
                         "directly)"}
"""The card's evaluation sets, in the order the page shows them."""


def card_markdown(artefact: dict) -> str:
    """The artefact's card as a page: thresholds, headline rates, the confusion table per category."""
    card = artefact["card"]
    lines = ["# The router's card", "",
             f"Written by `penguin raise build-router` from `data/router/` and the bundled query bank. "
             f"Classifier: {card['classifier']}. Thresholds (chosen on the calibration split): crisis "
             f"{artefact['thresholds']['crisis']}, direct {artefact['thresholds']['direct']}, the conversation read "
             f"whole {artefact['thresholds'].get('conversation', artefact['thresholds']['crisis'])}, a reply alone "
             f"{artefact['thresholds'].get('reply', 1.0)}. Calibration targets: {_targets(card['targets'])}. "
             "Where the rates below miss a target, the artefact misses it. The rates are the router's: they include "
             "the lexical floor (`crisis.py`"
             + (f", patterns sha256 {card['floor_sha256'][:12]}" if card.get("floor_sha256") else "")
             + ") and the language check (`router.py`: a query in another language is never answered directly)."
             + (f" Measured on this artefact after its build (`router_training.remeasure`): "
                f"{', '.join(card['remeasured'])}." if card.get("remeasured") else ""), ""]
    names = {"imminent_recall": "imminent danger routed to crisis", "passive_recall": "passive ideation routed to crisis",
             "hard_negative_false_alarms": "hard negatives routed to crisis (false alarms)",
             "answered_to_crisis": "ordinary answered conversations routed to crisis (false alarms)",
             "replies_to_crisis": "ordinary replies sent alone as a message, routed to crisis (false alarms)",
             "answered_crisis_recall": "crisis queries with ordinary replies routed to crisis",
             "conversations_to_crisis": "ordinary conversations routed to crisis (false alarms)",
             "conversations_crisis_recall": "crisis revealed in a reply routed to crisis",
             "crisis_answered_directly": "crisis messages answered directly (no safety handling)",
             "benign_to_agent": "benign requests sent to the agent", "benign_to_crisis": "benign requests routed to crisis",
             "risky_to_agent": "risky personal requests sent to the agent",
             "risky_to_direct": "risky personal requests answered directly",
             "risky_to_crisis": "risky personal requests routed to crisis (false alarms)",
             "penguin_to_agent": "PENGUIN queries (online split) sent to the agent",
             "penguin_to_direct": "PENGUIN queries answered directly"}
    for split, title in SECTIONS.items():
        if split not in card:
            continue
        lines += [f"## {title}", "", "| rate | value | 95% interval (Wilson) | n |", "|---|---|---|---|"]
        for key, label in names.items():
            v = card[split].get(key)  # a card written before a rate was added lacks it
            if v is not None and v["rate"] is not None:
                iv = proportion_interval(v["count"], v["n"])
                lines.append(f"| {label} | {v['rate']:.1%} | {iv.low:.1%} to {iv.high:.1%} | {v['n']} |")
        lines += ["", "| set : category : label | crisis | agent | direct |", "|---|---|---|---|"]
        for cat, routes in card[split]["by_category"].items():
            lines.append(f"| {cat} | {routes.get('crisis', 0)} | {routes.get('agent', 0)} | {routes.get('direct', 0)} |")
        lines.append("")
    return "\n".join(lines)
