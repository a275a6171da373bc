"""SCPO country reward models under torch.distributed, exported by SCPO Studio.

Trains one reward model per (country, method) of plan.json with the weighted Bradley-Terry loss
    L = -(1/B) sum_i w_i log sigmoid(s(chosen_i) - s(rejected_i))
and writes the studio CLI's report files (same names and schema). Loss, optimizer, batch schedule and reports
follow the TypeScript code one to one (src/gpu/cpu/trainer.ts, src/pipeline/train/loop.ts, src/pipeline/eval.ts,
src/pipeline/experiment.ts buildReports, src/pipeline/report.ts), so the bag RM reproduces the browser run.

  python3 run.py --nprocs 2 --out OUT        spawns 2 processes itself (env:// on 127.0.0.1)
  torchrun --nproc_per_node 2 run.py ...     or any launcher that sets RANK / WORLD_SIZE / MASTER_ADDR
"""
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import socket
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

JOB_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
METHODS = ['start', 'full_ft', 'filter_only', 'weight_only', 'scpo', 'inverse']
M32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------------------------
# The batch schedule: mulberry32 (src/pipeline/rng.ts) and BatchSchedule (src/pipeline/train/loop.ts).

def _imul(a: int, b: int) -> int:
    return (a * b) & M32


class Rng:
    def __init__(self, seed: int) -> None:
        self.state = int(seed) & M32

    def uint32(self) -> int:
        self.state = (self.state + 0x6D2B79F5) & M32
        t = self.state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & M32
        return (t ^ (t >> 14)) & M32

    def int(self, n: int) -> int:
        return math.floor(self.uint32() / 4294967296 * n)

    def shuffle(self, items: List[int]) -> List[int]:
        for i in range(len(items) - 1, 0, -1):
            j = self.int(i + 1)
            items[i], items[j] = items[j], items[i]
        return items


def batches(n: int, batch: int, seed: int, steps: int) -> Iterator[List[int]]:
    """Positions (0..n-1) of each step's pairs: a seeded permutation consumed in order, reshuffled each epoch."""
    size = min(batch, n)
    rng, order, epoch = Rng(seed), list(range(n)), -1
    for step in range(steps):
        out = []
        for k in range(size):
            pos = step * size + k
            while epoch < pos // n:
                rng.shuffle(order)
                epoch += 1
            out.append(order[pos % n])
        yield out


# ---------------------------------------------------------------------------------------------------------------
# Loss and evaluation (src/gpu/cpu/trainer.ts, src/pipeline/eval.ts).

def weighted_bt_loss(s_chosen: torch.Tensor, s_rejected: torch.Tensor, w: torch.Tensor, denom: float) -> torch.Tensor:
    """-(1/denom) sum w log sigmoid(s_c - s_r); denom is the global batch size (the mean over pairs, not over weights)."""
    return -(w * F.logsigmoid(s_chosen - s_rejected)).sum() / denom


def pair_accuracy(scores: Dict[int, float], chosen: Sequence[int], rejected: Sequence[int]) -> float:
    """Fraction of pairs whose chosen item scores strictly higher (ties are wrong); NaN when there are none."""
    if len(chosen) == 0:
        return math.nan
    return sum(1 for c, r in zip(chosen, rejected) if scores[c] > scores[r]) / len(chosen)


def macro(values: Sequence[float]) -> float:
    ok = [v for v in values if math.isfinite(v)]
    return sum(ok) / len(ok) if ok else math.nan


def pct(f: float) -> Optional[float]:
    # Math.round(f * 10000) / 100 in JavaScript: halves round up.
    return math.floor(f * 10000 + 0.5) / 100 if math.isfinite(f) else None


def pairs_to_reach(curve: List[Dict[str, float]], target: float) -> Optional[float]:
    pts = sorted(curve, key=lambda p: p['pairs'])
    for i, b in enumerate(pts):
        if b['accuracy'] >= target:
            if i == 0:
                return b['pairs']
            a = pts[i - 1]
            t = (target - a['accuracy']) / (b['accuracy'] - a['accuracy'])
            return a['pairs'] + t * (b['pairs'] - a['pairs'])
    return None


# ---------------------------------------------------------------------------------------------------------------
# The job's data.

class Job:
    def __init__(self, job_dir: str) -> None:
        for need in ('config.json', 'plan.json', os.path.join('data', 'pairs.jsonl')):
            if not os.path.isfile(os.path.join(job_dir, need)):
                raise SystemExit(f'{job_dir}: not an exported SCPO job ({need} is missing); pass --job DIR')
        with open(os.path.join(job_dir, 'config.json')) as f:
            self.meta = json.load(f)
        if self.meta.get('format') != 'scpo-pytorch-job':
            raise SystemExit(f'{job_dir}/config.json: not an SCPO Studio job (format {self.meta.get("format")!r})')
        self.config = self.meta['config']
        with open(os.path.join(job_dir, 'plan.json')) as f:
            plan = json.load(f)
        self.sets: Dict[str, Dict[str, List[int]]] = plan['sets']
        self.runs: List[Dict[str, Any]] = plan['runs']
        self.pairs: Dict[int, Dict[str, Any]] = {}
        with open(os.path.join(job_dir, 'data', 'pairs.jsonl')) as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        p = json.loads(line)
                        self.pairs[p['id']] = p
                    except (ValueError, KeyError) as e:
                        raise SystemExit(f'{job_dir}/data/pairs.jsonl:{n}: {e}')
        self.dir = job_dir

    def eval_pairs(self, ids: Sequence[int]) -> Tuple[List[int], List[int]]:
        return [self.pairs[i]['chosen_item'] for i in ids], [self.pairs[i]['rejected_item'] for i in ids]

    def majority_test(self) -> List[int]:
        return [i for c in self.config['majority'] for i in self.sets[c]['test']]

    def edited_test(self, c: str) -> List[int]:
        return [i for i in self.sets[c]['test'] if self.pairs[i]['edited']]

    def global_scores(self) -> Dict[int, float]:
        """Item scores of the global RM as exported (the `start` method and every run's step-0 point)."""
        s: Dict[int, float] = {}
        for p in self.pairs.values():
            s[p['chosen_item']] = p['r_plus']
            s[p['rejected_item']] = p['r_minus']
        return s


def load_tensor(job_dir: str, manifest: Dict[str, Any], name: str) -> torch.Tensor:
    t = manifest['tensors'][name]
    a = np.fromfile(os.path.join(job_dir, t['file']), dtype='<' + ('i4' if t['dtype'] == 'int32' else 'f4'))
    return torch.from_numpy(a.reshape(t['shape']).copy())


# ---------------------------------------------------------------------------------------------------------------
# The bundled bag RM (src/pipeline/rm/types.ts) and its optimizer (src/gpu/cpu/trainer.ts).

class BagRM(nn.Module):
    """score = W2 . relu(W1^T concat(mean E[response], mean E[prompt]) + b1) + b2; empty bags pool to zero."""

    def __init__(self, w: Dict[str, torch.Tensor], sparse: bool) -> None:
        super().__init__()
        self.emb = nn.EmbeddingBag.from_pretrained(w['E'].clone(), freeze=False, mode='mean', sparse=sparse)
        d2, h = w['W1'].shape
        self.fc1, self.fc2 = nn.Linear(d2, h), nn.Linear(h, 1)
        with torch.no_grad():
            self.fc1.weight.copy_(w['W1'].t())
            self.fc1.bias.copy_(w['b1'])
            self.fc2.weight.copy_(w['W2'].view(1, -1))
            self.fc2.bias.copy_(w['b2'])

    def forward(self, r_ids: torch.Tensor, r_off: torch.Tensor, p_ids: torch.Tensor, p_off: torch.Tensor) -> torch.Tensor:
        x = torch.cat([self.emb(r_ids, r_off), self.emb(p_ids, p_off)], dim=1)
        return self.fc2(F.relu(self.fc1(x))).squeeze(1)


class LazyAdamW:
    """AdamW on the embedding rows a batch touches, each with its own step count for the bias correction and its
    own decoupled weight decay; untouched rows do not change (trainer.ts). Other tensors use torch.optim.AdamW,
    which is the same formula with one global step."""

    def __init__(self, weight: torch.Tensor, lr: float, wd: float, betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.w, self.lr, self.wd, self.b1, self.b2, self.eps = weight, lr, wd, betas[0], betas[1], eps
        self.m = torch.zeros_like(weight)
        self.v = torch.zeros_like(weight)
        self.row_step = torch.zeros(weight.shape[0], dtype=torch.float64, device=weight.device)

    @torch.no_grad()
    def step(self, touched: Optional[torch.Tensor]) -> None:
        g = self.w.grad
        if g is None:
            return
        if g.is_sparse:
            g = g.coalesce()
            rows, vals = g.indices()[0], g.values()
        else:
            assert touched is not None
            rows = touched
            vals = g[rows]
        self.row_step[rows] += 1
        t = self.row_step[rows].unsqueeze(1)
        bc1 = (1 - self.b1 ** t).to(vals.dtype)
        sq_bc2 = torch.sqrt(1 - self.b2 ** t).to(vals.dtype)
        m = self.m[rows].mul_(self.b1).add_(vals, alpha=1 - self.b1)
        v = self.v[rows].mul_(self.b2).addcmul_(vals, vals, value=1 - self.b2)
        self.m[rows], self.v[rows] = m, v
        p = self.w[rows] * (1 - self.lr * self.wd) - (self.lr / bc1 * sq_bc2) * m / (v.sqrt() + self.eps * sq_bc2)
        self.w[rows] = p
        self.w.grad = None


class BagItems:
    """The exported token tables (CSR), batched into EmbeddingBag inputs."""

    def __init__(self, job_dir: str, device: torch.device) -> None:
        with open(os.path.join(job_dir, 'bag', 'manifest.json')) as f:
            self.manifest = json.load(f)
        t = {k: load_tensor(job_dir, self.manifest, k) for k in self.manifest['tensors']}
        self.weights = {k: t[k] for k in ('E', 'W1', 'b1', 'W2', 'b2')}
        self.ids = {h: t[f'{h}_ids'].long() for h in ('prompt', 'response')}
        self.off = {h: t[f'{h}_offsets'].tolist() for h in ('prompt', 'response')}
        self.device = device

    def inputs(self, items: Sequence[int]) -> Tuple[torch.Tensor, ...]:
        out: List[torch.Tensor] = []
        for h in ('response', 'prompt'):
            ids, off = self.ids[h], self.off[h]
            parts = [ids[off[k]:off[k + 1]] for k in items]
            lens = torch.tensor([0] + [len(p) for p in parts])
            out += [torch.cat(parts).to(self.device) if parts else ids[:0].to(self.device), torch.cumsum(lens, 0)[:-1].to(self.device)]
        return tuple(out)


# ---------------------------------------------------------------------------------------------------------------
# One run, and the whole job.

class Ctx:
    def __init__(self, rank: int, world: int, device: torch.device, strategy: str) -> None:
        self.rank, self.world, self.device, self.strategy = rank, world, device, strategy


def bag_scores(model: nn.Module, items: BagItems, ids: Sequence[int], chunk: int = 2048) -> Dict[int, float]:
    out: Dict[int, float] = {}
    with torch.no_grad():
        for s in range(0, len(ids), chunk):
            part = list(ids[s:s + chunk])
            out.update(zip(part, model(*items.inputs(part)).double().cpu().tolist()))
    return out


def train_run(job: Job, run: Dict[str, Any], ctx: Ctx, items: BagItems, args: argparse.Namespace) -> Dict[str, Any]:
    """Trains the bag RM of one plan entry from the global weights; all ranks take part when the strategy is ddp."""
    t0 = time.time()
    cfg = job.config
    ddp = ctx.strategy == 'ddp' and ctx.world > 1
    # nccl has no sparse all-reduce: dense embedding gradients there (the touched rows come from the batch).
    sparse = not (ddp and ctx.device.type == 'cuda')
    model = BagRM(items.weights, sparse).to(ctx.device)
    dense_opt = torch.optim.AdamW([p for n, p in model.named_parameters() if not n.startswith('emb')],
                                  lr=cfg['lr'], betas=(0.9, 0.999), eps=1e-8, weight_decay=cfg['weightDecay'])
    lazy = LazyAdamW(model.emb.weight, cfg['lr'], cfg['weightDecay'])
    if cfg['freezeEmbeddings']:
        model.emb.weight.requires_grad_(False)
    net: nn.Module = nn.parallel.DistributedDataParallel(model) if ddp else model
    c = run['country']
    test_c, test_r = job.eval_pairs(job.sets[c]['test'])
    ed_c, ed_r = job.eval_pairs(job.edited_test(c))
    test_items = sorted(set(test_c) | set(test_r))
    g = job.global_scores()
    points = [{'step': 0, 'loss': None, 'accFull': pair_accuracy(g, test_c, test_r), 'accEdited': pair_accuracy(g, ed_c, ed_r)}] if run['role'] == 'main' else []
    pc, pr = job.eval_pairs(run['pairs'])
    w_all = torch.tensor(run['weights'], dtype=torch.float32)
    losses: List[float] = []
    steps, every = run['steps'], run['evalEvery']
    for step, pos in enumerate(batches(len(pc), cfg['batch'], run['seed'], steps), 1):
        mine = pos[ctx.rank::ctx.world] if ddp else pos
        B = len(pos)
        # An empty shard still joins DDP's all-reduce: one pair of empty texts with weight 0 (no gradient, no rows).
        its = [pc[k] for k in mine] + [pr[k] for k in mine]
        inp = items.inputs(its) if mine else tuple(x.to(ctx.device) for x in (torch.zeros(0, dtype=torch.long), torch.zeros(2, dtype=torch.long)) * 2)
        w = w_all[mine].to(ctx.device) if mine else torch.zeros(1, device=ctx.device)
        s = net(*inp)
        n = len(s) // 2
        # Local sum / global B; DDP averages gradients over ranks, so multiply back by the world size.
        loss = weighted_bt_loss(s[:n], s[n:], w, B) * (ctx.world if ddp else 1)
        net.zero_grad(set_to_none=True)
        loss.backward()
        dense_opt.step()
        if not cfg['freezeEmbeddings']:
            touched = None
            if not sparse:
                allb = items.inputs([pc[k] for k in pos] + [pr[k] for k in pos])
                touched = torch.unique(torch.cat([allb[0], allb[2]]))
            lazy.step(touched)
        lv = loss.detach()
        if ddp:
            dist.all_reduce(lv)
            lv = lv / ctx.world
        losses.append(float(lv))
        if run['role'] == 'main' and every and (step % every == 0 or step == steps):
            sc = bag_scores(model, items, test_items)
            points.append({'step': step, 'loss': losses[-1], 'accFull': pair_accuracy(sc, test_c, test_r), 'accEdited': pair_accuracy(sc, ed_c, ed_r)})
    return finish_run(job, run, model_scores=lambda ids: bag_scores(model, items, ids), losses=losses, points=points, t0=t0)


def finish_run(job: Job, run: Dict[str, Any], model_scores: Callable[[Sequence[int]], Dict[int, float]],
               losses: List[float], points: List[Dict[str, Any]], t0: float) -> Dict[str, Any]:
    """Final accuracies (full test, edited test, majority test) and, for main runs, margins on the country's pairs."""
    c = run['country']
    main = run['role'] == 'main'
    own = job.sets[c]['train'] + job.sets[c].get('val', []) + job.sets[c]['test']
    maj = job.majority_test() if main else []
    oc, orj = job.eval_pairs(own)
    mc, mr = job.eval_pairs(maj)
    sc = model_scores(sorted(set(oc) | set(orj) | set(mc) | set(mr)))
    test_c, test_r = job.eval_pairs(job.sets[c]['test'])
    ed_c, ed_r = job.eval_pairs(job.edited_test(c))
    val_c, val_r = job.eval_pairs(job.sets[c].get('val', []))
    return {
        'country': c, 'method': run['method'], 'role': run['role'], 'fraction': run['fraction'],
        'trainPairs': len(run['pairs']), 'steps': run['steps'],
        'accFull': pair_accuracy(sc, test_c, test_r), 'accEdited': pair_accuracy(sc, ed_c, ed_r),
        'accMajority': pair_accuracy(sc, mc, mr) if main else math.nan,
        'accVal': pair_accuracy(sc, val_c, val_r),
        'losses': losses, 'points': points, 'ms': round((time.time() - t0) * 1000),
        'margins': [sc[a] - sc[b] for a, b in zip(oc, orj)] if main else None,
    }


def start_run(job: Job, c: str) -> Dict[str, Any]:
    g = job.global_scores()
    run = {'country': c, 'method': 'start', 'role': 'main', 'fraction': None, 'pairs': [], 'steps': 0}
    r = finish_run(job, run, lambda ids: g, [], [], time.time())
    r['points'] = [{'step': 0, 'loss': None, 'accFull': r['accFull'], 'accEdited': r['accEdited']}]
    r['ms'] = 0
    return r


# ---------------------------------------------------------------------------------------------------------------
# Reports (src/pipeline/experiment.ts buildReports, src/pipeline/report.ts).

def build_reports(job: Job, runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    cfg = job.config
    countries, methods = cfg['countries'], cfg['methods']
    main = {(r['country'], r['method']): r for r in runs if r['role'] == 'main'}
    acc = lambda c, m, k: main[(c, m)][k] if (c, m) in main else math.nan

    def table(k: str) -> Dict[str, Any]:
        t: Dict[str, Any] = {c: {m: pct(acc(c, m, k)) for m in methods} for c in countries}
        t['avg'] = {m: pct(macro([acc(c, m, k) for c in countries])) for m in methods}
        return t

    er: Dict[str, Any] = {'train': {}, 'test': {}, 'macro': {}}
    tr_all, te_all = [], []
    tot = {'train': 0, 'kept': 0, 'test': 0, 'edited': 0}
    bias: Dict[str, Any] = {'majority': cfg['majority'], 'countries': {}, 'avg': {}}
    for c in countries:
        s = job.sets[c]
        kept = sum(1 for i in s['train'] if job.pairs[i]['kept'])
        tr = kept / len(s['train']) if s['train'] else math.nan
        te = len(job.edited_test(c)) / len(s['test']) if s['test'] else math.nan
        tot['train'] += len(s['train'])
        tot['kept'] += kept
        tot['test'] += len(s['test'])
        tot['edited'] += len(job.edited_test(c))
        tr_all.append(tr)
        te_all.append(te)
        er['train'][c] = tr if math.isfinite(tr) else None
        er['test'][c] = te if math.isfinite(te) else None
        bias['countries'][c] = {m: {'own': pct(acc(c, m, 'accFull')), 'majority': pct(acc(c, m, 'accMajority'))} for m in methods}
    # avg pools the countries' pairs, as the reference does; macro is the mean of the per-country ratios.
    er['train']['avg'] = tot['kept'] / tot['train'] if tot['train'] else None
    er['test']['avg'] = tot['edited'] / tot['test'] if tot['test'] else None
    for k, vals in (('train', tr_all), ('test', te_all)):
        a = macro(vals)
        er['macro'][k] = a if math.isfinite(a) else None
    for m in methods:
        bias['avg'][m] = {'own': pct(macro([acc(c, m, 'accFull') for c in countries])),
                          'majority': pct(macro([acc(c, m, 'accMajority') for c in countries]))}
    eff: Dict[str, Any] = {'fractions': cfg['efficiencyFractions'], 'countries': {}, 'avgRatio': None, 'neverReached': []}
    if cfg['efficiency'] and 'full_ft' in methods and 'scpo' in methods:
        for c in countries:
            curve = [{'pairs': r['trainPairs'], 'accuracy': r['accFull']} for r in runs if r['country'] == c and r['role'] == 'efficiency']
            ft, sp = main.get((c, 'full_ft')), main.get((c, 'scpo'))
            if ft is None or sp is None:
                continue
            curve.append({'pairs': ft['trainPairs'], 'accuracy': ft['accFull']})
            need = pairs_to_reach(curve, sp['accFull'])
            eff['countries'][c] = {
                'fullFt': sorted(curve, key=lambda p: p['pairs']),
                'scpo': {'pairs': sp['trainPairs'], 'accuracy': sp['accFull']},
                'fullFtPairsForScpoAccuracy': need,
                'ratio': None if need is None or sp['trainPairs'] == 0 else need / sp['trainPairs'],
            }
        ratios = [e['ratio'] for e in eff['countries'].values() if e['ratio'] is not None]
        eff['avgRatio'] = macro(ratios) if ratios else None
        eff['neverReached'] = [c for c, e in eff['countries'].items() if e['fullFtPairsForScpoAccuracy'] is None]
    else:
        eff['skipped'] = 'needs both full_ft and scpo among the methods' if cfg['efficiency'] else 'disabled'
    return {'full': table('accFull'), 'partial': table('accEdited'), 'validation': table('accVal'), 'editedRatios': er, 'bias': bias, 'efficiency': eff}


def _js_num(x: Any) -> Any:
    """JSON like JavaScript's JSON.stringify: NaN/inf as null, integral floats without '.0'."""
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return int(x) if x.is_integer() and abs(x) < 2 ** 53 else x
    if isinstance(x, dict):
        return {k: _js_num(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_js_num(v) for v in x]
    return x


def write_reports(job: Job, runs: List[Dict[str, Any]], out: str, provenance: Dict[str, Any], backend: str) -> None:
    cfg = job.config
    order = {(c, m): k for k, (c, m) in enumerate((c, m) for c in cfg['countries'] for m in METHODS)}
    main = sorted((r for r in runs if r['role'] == 'main'), key=lambda r: order[(r['country'], r['method'])])
    rep = build_reports(job, runs)
    counts = {}
    for c in dict.fromkeys(cfg['countries'] + cfg['majority']):
        s = job.sets[c]
        counts[c] = {'train': len(s['train']), 'val': len(s.get('val', [])), 'kept': sum(1 for i in s['train'] if job.pairs[i]['kept']),
                     'test': len(s['test']), 'edited': len(job.edited_test(c))}
    run_json = {
        'app': 'scpo-studio', 'version': job.meta.get('versions', {}).get('app', ''),
        'versions': {**job.meta.get('versions', {}), 'python': platform.python_version(), 'torch': torch.__version__},
        'config': cfg, 'seed': cfg['seed'], 'backend': backend, 'globalRm': job.meta.get('globalRm'), 'data': job.meta.get('data'),
        'counts': counts,
        'runs': [{'country': r['country'], 'method': r['method'], 'trainPairs': r['trainPairs'], 'steps': r['steps'],
                  'accFull': r['accFull'], 'accEdited': r['accEdited'], 'accMajority': r['accMajority'], 'accVal': r['accVal'],
                  'finalLoss': r['losses'][-1] if r['losses'] else None, 'ms': r['ms']} for r in main],
        'timings': provenance['timings'],
        'job': provenance,
    }
    files = {
        'full_report.json': rep['full'], 'partial_report.json': rep['partial'], 'validation_report.json': rep['validation'],
        'edited_ratios.json': rep['editedRatios'],
        'bias_report.json': rep['bias'], 'efficiency.json': rep['efficiency'], 'run.json': run_json,
    }
    os.makedirs(out, exist_ok=True)
    for name, v in files.items():
        with open(os.path.join(out, name), 'w') as f:
            f.write(json.dumps(_js_num(v), indent=2, ensure_ascii=False) + '\n')
    f2 = lambda x: '' if not math.isfinite(x) else f'{x * 100:.2f}'
    esc = lambda s: '"' + s.replace('"', '""') + '"' if any(ch in s for ch in ',"\n') else s
    with open(os.path.join(out, 'report.csv'), 'w') as f:
        f.write('country,method,full_acc,edited_acc,majority_acc,val_acc,train_pairs\n')
        for r in main:
            f.write(','.join([esc(r['country']), r['method'], f2(r['accFull']), f2(r['accEdited']), f2(r['accMajority']), f2(r['accVal']), str(r['trainPairs'])]) + '\n')
    # What the studio's Import run needs beyond the reports: curves, margins, sets and the global scores.
    n = job.meta['pairsTotal']
    rp: List[Optional[float]] = [None] * n
    rm: List[Optional[float]] = [None] * n
    for i, p in job.pairs.items():
        rp[i], rm[i] = p['r_plus'], p['r_minus']
    detail = {
        'format': 'scpo-job-result', 'version': 1, 'source': job.meta.get('source'), 'backend': backend, 'provenance': provenance,
        'runs': [{k: r[k] for k in ('country', 'method', 'trainPairs', 'steps', 'accFull', 'accEdited', 'accMajority', 'accVal', 'losses', 'points', 'ms')} for r in main],
        'margins': {c: {r['method']: [round(x, 6) for x in r['margins']] for r in main if r['country'] == c and r['margins'] is not None} for c in cfg['countries']},
        'sets': {c: {'train': s['train'], 'val': s.get('val', []), 'test': s['test'], **{k: counts[c][k] for k in ('kept', 'edited')}} for c, s in job.sets.items()},
        'rPlus': rp, 'rMinus': rm,
    }
    with open(os.path.join(out, 'job_result.json'), 'w') as f:
        f.write(json.dumps(_js_num(detail), ensure_ascii=False) + '\n')


# ---------------------------------------------------------------------------------------------------------------
# Processes: our own (torch.multiprocessing.spawn + env://) or a launcher's (torchrun, accelerate launch).

def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description='Train the SCPO country reward models of this job.')
    ap.add_argument('--out', required=True, help='folder for the report files')
    ap.add_argument('--job', default=JOB_DIR, help='the exported job folder (default: this one)')
    ap.add_argument('--nprocs', type=int, default=1, help='processes to spawn on this machine (ignored under torchrun)')
    ap.add_argument('--device', default='cpu', help='cpu or cuda (each process takes cuda:LOCAL_RANK)')
    ap.add_argument('--strategy', choices=['runs', 'ddp'], default=None,
                    help='runs: whole runs per process (bag RM default); ddp: every run on all processes (--model default)')
    ap.add_argument('--port', type=int, default=0, help='rendezvous port for --nprocs (default: a free one)')
    ap.add_argument('--threads', type=int, default=1, help='torch threads per process')
    ap.add_argument('--model', default=None, help='a Hugging Face AutoModelForSequenceClassification id or folder (see hf.py)')
    ap.add_argument('--lr', type=float, default=None, help='override the exported learning rate (--model: e.g. 1e-5)')
    ap.add_argument('--batch', type=int, default=None, help='override the exported batch size')
    ap.add_argument('--steps', type=int, default=None, help='override the exported step budget per run')
    ap.add_argument('--max-length', type=int, default=512, help='--model: tokens per "prompt [SEP] response"')
    ap.add_argument('--amp', choices=['no', 'bf16', 'fp16'], default='no', help='--model on cuda: autocast dtype')
    return ap.parse_args(argv)


def worker(rank: int, world: int, args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    local = int(os.environ.get('LOCAL_RANK', rank))
    device = torch.device(f'cuda:{local}' if args.device == 'cuda' else args.device)
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    backend = 'nccl' if device.type == 'cuda' else 'gloo'
    dist.init_process_group(backend, init_method='env://', rank=rank, world_size=world)
    try:
        t0 = time.time()
        job = Job(args.job)
        for k in ('lr', 'batch', 'steps'):
            if getattr(args, k) is not None:
                job.config[k] = getattr(args, k)
        if args.steps is not None:
            for r in job.runs:
                r['steps'] = min(r['steps'], args.steps)
        strategy = args.strategy or ('ddp' if args.model else 'runs')
        ctx = Ctx(rank, world, device, strategy)
        if args.model:
            import hf
            mine, engine = hf.train_all(job, ctx, args)
        else:
            items = BagItems(args.job, device)
            todo = [r for k, r in enumerate(job.runs) if strategy == 'ddp' or k % world == rank]
            mine = [train_run(job, r, ctx, items, args) for r in todo]
            engine = 'bag RM'
            if strategy == 'ddp' and rank != 0:
                mine = []
        # With each rank's CPU seconds: wall time on a shared machine says little, CPU time is what the job cost.
        gathered: List[Any] = [None] * world
        dist.all_gather_object(gathered, (mine, time.process_time()))
        if rank == 0:
            runs = [start_run(job, c) for c in job.config['countries'] if 'start' in job.config['methods']]
            runs += [r for part, _ in gathered for r in part]
            cpu_ms = round(sum(c for _, c in gathered) * 1000)
            wall = time.time() - t0
            what = f'{world} process{"es" if world > 1 else ""}, {backend}, {device.type}, strategy {strategy}'
            backend_str = f'PyTorch {torch.__version__} ({engine}; {what})'
            provenance = {
                'engine': 'pytorch', 'torch': torch.__version__, 'python': platform.python_version(), 'host': socket.gethostname(),
                'world': world, 'backend': backend, 'device': args.device, 'strategy': strategy, 'model': args.model or 'bag RM (exported)',
                'job': os.path.abspath(args.job), 'exportedAt': job.meta.get('exportedAt'), 'finishedAt': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()),
                'overrides': {k: getattr(args, k) for k in ('lr', 'batch', 'steps') if getattr(args, k) is not None},
                'timings': {'wallMs': round(wall * 1000), 'trainMsSum': sum(r['ms'] for r in runs), 'cpuMs': cpu_ms},
            }
            write_reports(job, runs, args.out, provenance, backend_str)
            print(f'wrote the reports of {len(runs)} runs to {args.out} in {wall:.1f} s ({what})', flush=True)
    finally:
        dist.destroy_process_group()


def _spawned(rank: int, world: int, args: argparse.Namespace) -> None:
    os.environ['LOCAL_RANK'] = str(rank)
    worker(rank, world, args)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    if 'RANK' in os.environ and 'WORLD_SIZE' in os.environ:
        worker(int(os.environ['RANK']), int(os.environ['WORLD_SIZE']), args)
        return
    # Our own processes: env:// rendezvous on this machine (Debian's torchrun crashes on Python 3.11).
    os.environ.setdefault('MASTER_ADDR', '127.0.0.1')
    if args.port or 'MASTER_PORT' not in os.environ:
        port = args.port
        if not port:
            with socket.socket() as s:
                s.bind(('127.0.0.1', 0))
                port = s.getsockname()[1]
        os.environ['MASTER_PORT'] = str(port)
    if args.nprocs <= 1:
        _spawned(0, 1, args)
    else:
        torch.multiprocessing.spawn(_spawned, args=(args.nprocs, args), nprocs=args.nprocs, join=True)


if __name__ == '__main__':
    main()
