"""The Hugging Face path of the SCPO job: any AutoModelForSequenceClassification (num_labels=1) as the country
reward model, e.g. `--model microsoft/deberta-v3-base` as in the paper. Input `prompt [SEP] response` truncated
to --max-length (512) tokens like the reference code; the weighted Bradley-Terry loss and the batch schedule of
run.py; every run trained by all processes with DistributedDataParallel (launch with torchrun or accelerate).

The training loop takes the model and tokenizer as arguments, so it is tested with a tiny torch model standing
in for the encoder (test/job/hf_logic_test.py in the studio's repository)."""
from __future__ import annotations

import argparse
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
import torch.distributed as dist
import torch.nn as nn

import run as core

SEP = '[SEP]'


def pair_text(prompt: str, response: str) -> str:
    return f'{prompt} {SEP} {response}'


def item_texts(job: core.Job) -> Dict[int, str]:
    """Item id -> model input text, from the exported pairs."""
    out: Dict[int, str] = {}
    for p in job.pairs.values():
        out[p['chosen_item']] = pair_text(p['prompt'], p['chosen'])
        out[p['rejected_item']] = pair_text(p.get('rejected_prompt', p['prompt']), p['rejected'])
    return out


class PairCollator:
    """Tokenizes the chosen texts then the rejected texts of a batch into one padded tensor batch [2B, L]."""

    def __init__(self, tokenizer: Callable[..., Any], max_length: int = 512) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def encode(self, texts: Sequence[str]) -> Dict[str, torch.Tensor]:
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length, padding=True, return_tensors='pt')
        return {k: v for k, v in dict(enc).items() if k in ('input_ids', 'attention_mask', 'token_type_ids')}

    def __call__(self, chosen: Sequence[str], rejected: Sequence[str], weights: Sequence[float]) -> Dict[str, torch.Tensor]:
        batch = self.encode(list(chosen) + list(rejected))
        batch['weight'] = torch.tensor(list(weights), dtype=torch.float32)
        return batch


def scores(model: nn.Module, batch: Dict[str, torch.Tensor], device: torch.device, amp: str = 'no') -> torch.Tensor:
    inputs = {k: v.to(device) for k, v in batch.items() if k != 'weight'}
    dtype = {'bf16': torch.bfloat16, 'fp16': torch.float16}.get(amp)
    with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
        return model(**inputs).logits.squeeze(-1).float()


def score_items(model: nn.Module, collate: PairCollator, texts: Dict[int, str], ids: Sequence[int], ctx: core.Ctx,
                batch: int = 64, amp: str = 'no') -> Dict[int, float]:
    """Scores of `ids`, each process scoring its share; every process gets all of them."""
    mine = list(ids)[ctx.rank::ctx.world]
    out: Dict[int, float] = {}
    model.eval()
    with torch.no_grad():
        for s in range(0, len(mine), batch):
            part = mine[s:s + batch]
            out.update(zip(part, scores(model, collate.encode([texts[k] for k in part]), ctx.device, amp).double().cpu().tolist()))
    model.train()
    if ctx.world > 1:
        parts: List[Any] = [None] * ctx.world
        dist.all_gather_object(parts, out)
        out = {k: v for p in parts for k, v in p.items()}
    return out


def train_one(job: core.Job, run: Dict[str, Any], model: nn.Module, collate: PairCollator, ctx: core.Ctx,
              lr: float, weight_decay: float, amp: str = 'no', eval_batch: int = 64) -> Dict[str, Any]:
    """One plan entry on all processes: each global batch of the schedule split over the ranks under DDP."""
    t0 = time.time()
    cfg = job.config
    texts = item_texts(job)
    net: nn.Module = nn.parallel.DistributedDataParallel(model) if ctx.world > 1 else model
    opt = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=weight_decay)
    scaler = torch.cuda.amp.GradScaler(enabled=amp == 'fp16')
    pc, pr = job.eval_pairs(run['pairs'])
    c = run['country']
    test_c, test_r = job.eval_pairs(job.sets[c]['test'])
    ed_c, ed_r = job.eval_pairs(job.edited_test(c))
    test_items = sorted(set(test_c) | set(test_r))
    g = job.global_scores()
    main = run['role'] == 'main'
    points = [{'step': 0, 'loss': None, 'accFull': core.pair_accuracy(g, test_c, test_r), 'accEdited': core.pair_accuracy(g, ed_c, ed_r)}] if main else []
    losses: List[float] = []
    model.train()
    for step, pos in enumerate(core.batches(len(pc), cfg['batch'], run['seed'], run['steps']), 1):
        own = pos[ctx.rank::ctx.world]
        # A rank without pairs of its own (batch < world) repeats one with weight 0, so DDP's all-reduce still meets.
        mine = own or pos[:1]
        w = [run['weights'][k] for k in own] or [0.0]
        batch = collate([texts[pc[k]] for k in mine], [texts[pr[k]] for k in mine], w)
        s = scores(net, batch, ctx.device, amp)
        n = len(mine)
        loss = core.weighted_bt_loss(s[:n], s[n:], batch['weight'].to(ctx.device), len(pos)) * ctx.world
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        lv = loss.detach()
        if ctx.world > 1:
            dist.all_reduce(lv)
        losses.append(float(lv) / ctx.world)
        every = run['evalEvery']
        if main and every and (step % every == 0 or step == run['steps']):
            sc = score_items(model, collate, texts, test_items, ctx, eval_batch, amp)
            points.append({'step': step, 'loss': losses[-1], 'accFull': core.pair_accuracy(sc, test_c, test_r), 'accEdited': core.pair_accuracy(sc, ed_c, ed_r)})
    return core.finish_run(job, run, lambda ids: score_items(model, collate, texts, ids, ctx, eval_batch, amp), losses, points, t0)


def train_all(job: core.Job, ctx: core.Ctx, args: argparse.Namespace) -> Tuple[List[Dict[str, Any]], str]:
    try:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer  # type: ignore[import-not-found]
    except ImportError as e:
        raise SystemExit(f'--model needs the transformers package (pip install transformers): {e}')
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    collate = PairCollator(tokenizer, args.max_length)
    out: List[Dict[str, Any]] = []
    for run in job.runs:
        # Every run starts from the same checkpoint (the global RM), like the bag RM's runs start from its weights.
        model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=1).to(ctx.device)
        if getattr(model.config, 'pad_token_id', None) is None and tokenizer.pad_token_id is not None:
            model.config.pad_token_id = tokenizer.pad_token_id
        r = train_one(job, run, model, collate, ctx, job.config['lr'], job.config['weightDecay'], args.amp)
        if ctx.rank == 0:
            out.append(r)
        del model
    return out, f'{args.model}, max {args.max_length} tokens'
