"""The job's transformers path (hf.py) without transformers: a tiny torch model stands in for the encoder and a
word-hashing tokenizer for the Hugging Face tokenizer. Run by test/job.test.ts: python3 hf_logic_test.py JOB_DIR."""
import copy
import math
import os
import sys
import types
import unittest

import torch
import torch.nn as nn

# Spawned processes re-import this file without the argument: they find the folder in the environment.
JOB_DIR = os.environ.get('SCPO_TEST_JOB_DIR') or sys.argv.pop(1)
os.environ['SCPO_TEST_JOB_DIR'] = JOB_DIR
sys.path.insert(0, os.path.join(JOB_DIR, 'job'))
import hf  # noqa: E402
import run as core  # noqa: E402


class HashTokenizer:
    """The call signature hf.PairCollator uses: texts -> padded input_ids / attention_mask, truncated."""

    def __call__(self, texts, truncation, max_length, padding, return_tensors):
        assert truncation and padding and return_tensors == 'pt'
        rows = [[1 + (sum(map(ord, w)) % 97) for w in t.split()][:max_length] for t in texts]
        n = max(len(r) for r in rows)
        ids = torch.tensor([r + [0] * (n - len(r)) for r in rows])
        return {'input_ids': ids, 'attention_mask': (ids != 0).long()}


class TinyEncoder(nn.Module):
    """Mean of token embeddings -> linear: returns an object with .logits [N, 1] like a HF classifier."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(98, 8)
        self.head = nn.Linear(8, 1)

    def forward(self, input_ids, attention_mask):
        m = attention_mask.unsqueeze(-1).float()
        x = (self.emb(input_ids) * m).sum(1) / m.sum(1).clamp(min=1)
        return types.SimpleNamespace(logits=self.head(x))


class HfLogic(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.job = core.Job(JOB_DIR)
        cls.ctx = core.Ctx(0, 1, torch.device('cpu'), 'ddp')

    def test_text_and_items(self):
        self.assertEqual(hf.pair_text('Hi there', 'Hello'), 'Hi there [SEP] Hello')
        texts = hf.item_texts(self.job)
        p = next(iter(self.job.pairs.values()))
        self.assertEqual(texts[p['chosen_item']], f"{p['prompt']} [SEP] {p['chosen']}")
        self.assertEqual(texts[p['rejected_item']], f"{p.get('rejected_prompt', p['prompt'])} [SEP] {p['rejected']}")

    def test_collator_truncates_and_orders_chosen_then_rejected(self):
        col = hf.PairCollator(HashTokenizer(), max_length=8)
        b = col(['a b c d e f g h i j', 'x'], ['y z', 'q r s'], [1.0, 0.25])
        self.assertEqual(tuple(b['input_ids'].shape), (4, 8))
        self.assertEqual(b['attention_mask'].sum(1).tolist(), [8, 1, 2, 3])
        self.assertEqual(b['weight'].tolist(), [1.0, 0.25])
        self.assertEqual(set(b), {'input_ids', 'attention_mask', 'weight'})

    def test_weighted_bt_loss(self):
        sc, sr, w = torch.tensor([1.0, -2.0]), torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.5])
        ls = lambda d: -(max(-d, 0) + math.log1p(math.exp(-abs(d))))  # log sigmoid as in src/gpu/cpu/ops.ts
        want = -(1.0 * ls(1.0) + 0.5 * ls(-3.0)) / 2
        self.assertAlmostEqual(core.weighted_bt_loss(sc, sr, w, 2).item(), want, places=6)
        # The denominator is the global batch: a shard's share times the world size gives the same gradient sum.
        self.assertAlmostEqual(core.weighted_bt_loss(sc[:1], sr[:1], w[:1], 2).item() * 2, -2 * ls(1.0) / 2, places=6)

    def test_train_one_replays_the_schedule_with_the_loss(self):
        run = next(r for r in self.job.runs if r['method'] == 'scpo' and r['role'] == 'main')
        run = {**run, 'steps': 12, 'evalEvery': 6}
        col = hf.PairCollator(HashTokenizer(), max_length=32)
        model = TinyEncoder()
        init = copy.deepcopy(model)
        # Step 1's loss is the initial model's loss on the schedule's first batch.
        texts = hf.item_texts(self.job)
        pc, pr = self.job.eval_pairs(run['pairs'])
        first = next(core.batches(len(pc), self.job.config['batch'], run['seed'], 1))
        b = col([texts[pc[k]] for k in first], [texts[pr[k]] for k in first], [run['weights'][k] for k in first])
        s = hf.scores(init, b, torch.device('cpu'))
        want = core.weighted_bt_loss(s[:len(first)], s[len(first):], b['weight'], len(first)).item()
        r = hf.train_one(self.job, run, model, col, self.ctx, lr=1e-2, weight_decay=0.0)
        self.assertAlmostEqual(r['losses'][0], want, places=5)
        self.assertEqual(len(r['losses']), 12)
        self.assertEqual([p['step'] for p in r['points']], [0, 6, 12])
        c = run['country']
        self.assertEqual(len(r['margins']), len(self.job.sets[c]['train']) + len(self.job.sets[c].get('val', [])) + len(self.job.sets[c]['test']))
        self.assertTrue(0 <= r['accFull'] <= 1 and 0 <= r['accMajority'] <= 1)
        self.assertFalse(torch.equal(model.head.weight, init.head.weight))


def _ddp_worker(rank, world, port, run, out):
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world)
    try:
        job = core.Job(JOB_DIR)
        ctx = core.Ctx(rank, world, torch.device('cpu'), 'ddp')
        r = hf.train_one(job, run, TinyEncoder(), hf.PairCollator(HashTokenizer(), 32), ctx, lr=1e-2, weight_decay=0.01)
        if rank == 0:
            torch.save({'losses': r['losses'], 'accFull': r['accFull'], 'margins': r['margins']}, out)
    finally:
        dist.destroy_process_group()


class HfDdp(unittest.TestCase):
    def test_two_processes_train_like_one(self):
        """Each global batch split over 2 ranks under DDP gives the single-process run's losses and scores."""
        import socket
        import tempfile
        job = core.Job(JOB_DIR)
        run = next(r for r in job.runs if r['method'] == 'full_ft' and r['role'] == 'main')
        run = {**run, 'steps': 6, 'evalEvery': 3}
        one = hf.train_one(job, run, TinyEncoder(), hf.PairCollator(HashTokenizer(), 32), core.Ctx(0, 1, torch.device('cpu'), 'ddp'), lr=1e-2, weight_decay=0.01)
        with socket.socket() as s:
            s.bind(('127.0.0.1', 0))
            port = s.getsockname()[1]
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, 'r.pt')
            torch.multiprocessing.spawn(_ddp_worker, args=(2, port, run, out), nprocs=2, join=True)
            two = torch.load(out)
        for a, b in zip(one['losses'], two['losses']):
            self.assertAlmostEqual(a, b, places=5)
        self.assertEqual(one['accFull'], two['accFull'])
        self.assertLess(max(abs(a - b) for a, b in zip(one['margins'], two['margins'])), 1e-4)


if __name__ == '__main__':
    unittest.main(verbosity=1)
