#!/usr/bin/python3
# Writes test/kernels/cases/<op>.json for the transformer kernels. The "torch:" cases hold literal inputs and
# expected outputs computed here by PyTorch in float64 (forward by its own ops, backward by autograd): an
# implementation independent of both the WGSL and its TypeScript twin. The "gen:" cases are seeded and check
# the GPU against the twin at the model's real shapes. Re-run after changing a case:
#   /usr/bin/python3 test/kernels/torch/gen_cases.py      (Debian python3-torch; the default python3 may lack it)
import json, os
import numpy as np
import torch

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'cases')


def f32(a):
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def rnd(seed, shape, lo=-1.0, hi=1.0):
    return f32(np.random.RandomState(seed).uniform(lo, hi, size=shape))


def lst(a):
    return [float('%.9g' % v) for v in np.asarray(a, dtype=np.float64).ravel()]


def t(a, grad=False):
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


def write(op, description, tolerance, cases, skip=()):
    doc = {'op': op, 'description': description, 'tolerance': tolerance, 'cases': cases, 'skip': list(skip)}
    with open(os.path.join(OUT, op + '.json'), 'w') as f:
        f.write('{\n')
        f.write('  "op": %s,\n  "description": %s,\n  "tolerance": %s,\n  "cases": [\n' % (json.dumps(op), json.dumps(description), json.dumps(tolerance)))
        f.write(',\n'.join('    ' + json.dumps(c) for c in cases))
        f.write('\n  ],\n  "skip": %s\n}\n' % json.dumps(list(skip), indent=2).replace('\n', '\n  '))


def uni(seed, lo=-1, hi=1):
    return {'uniform': [lo, hi], 'seed': seed}

# ---- matmul ---------------------------------------------------------------------------------------------
def matmul_cases():
    cases = []
    seed = 100
    for (M, N, K) in [(3, 5, 4), (33, 35, 19), (70, 3, 5), (3, 70, 21)]:  # the last two cross a 64-wide tile
        for tA in (False, True):
            for tB in (False, True):
                for bias, acc, alpha in [(False, False, 1.0), (True, False, 1.0), (True, True, 0.5)]:
                    if (M, N, K) != (3, 5, 4) and (bias or acc):
                        continue
                    seed += 4
                    A = rnd(seed, (K, M) if tA else (M, K))
                    B = rnd(seed + 1, (N, K) if tB else (K, N))
                    b = rnd(seed + 2, (N,))
                    C0 = rnd(seed + 3, (M, N))
                    opA = t(A).T if tA else t(A)
                    opB = t(B).T if tB else t(B)
                    C = alpha * (opA @ opB)
                    if bias:
                        C = C + t(b)
                    if acc:
                        C = C + t(C0)
                    dims = {'M': M, 'N': N, 'K': K, 'transA': tA, 'transB': tB, 'bias': bias, 'accumulate': acc, 'alpha': alpha}
                    inputs = {'A': lst(A), 'B': lst(B)}
                    if bias:
                        inputs['bias'] = lst(b)
                    if acc:
                        inputs['C'] = lst(C0)
                    name = 'torch: %dx%dx%d %s%s%s%s%s' % (M, N, K, 'T' if tA else 'N', 'T' if tB else 'N', ' +bias' if bias else '', ' +=C' if acc else '', ' alpha=%g' % alpha if alpha != 1 else '')
                    cases.append({'name': name, 'dims': dims, 'inputs': inputs, 'expected': {'C': lst(C.detach().numpy())}})
    cases.append({'name': 'hand: M=0 and K=0', 'dims': {'M': 2, 'N': 2, 'K': 0, 'bias': True}, 'inputs': {'A': [], 'B': [], 'bias': [1.5, -2]}, 'expected': {'C': [1.5, -2, 1.5, -2]}})
    cases.append({'name': 'hand: empty product M=0', 'dims': {'M': 0, 'N': 3, 'K': 2}, 'inputs': {'A': [], 'B': [1, 2, 3, 4, 5, 6]}, 'expected': {'C': []}})
    g = 300
    for (M, N, K, tA, tB, extra) in [
        (128, 768, 256, False, False, {'bias': True}),   # L0 qkv over 128 tokens
        (128, 256, 768, False, True, {}),                # dX of L0 qkv
        (256, 768, 128, True, False, {}),                # dW of L0 qkv over 128 tokens
        (70, 8, 512, False, False, {}),                  # LoRA A
        (70, 512, 8, False, False, {'accumulate': True, 'alpha': 2.0}),  # LoRA B into the projection
        (1, 1, 512, False, False, {'bias': True}),       # the head, one item
    ]:
        dims = {'M': M, 'N': N, 'K': K, 'transA': tA, 'transB': tB, **extra}
        inputs = {'A': uni(g), 'B': uni(g + 1, -0.1, 0.1)}
        if extra.get('bias'):
            inputs['bias'] = uni(g + 2)
        if extra.get('accumulate'):
            inputs['C'] = uni(g + 3)
        cases.append({'name': 'gen: %dx%dx%d %s%s %s' % (M, N, K, 'T' if tA else 'N', 'T' if tB else 'N', ','.join(extra)), 'dims': dims, 'inputs': inputs, 'expected': 'twin'})
        g += 4
    write('matmul', 'C = alpha op(A) op(B) (+ bias) (+ C); op = identity or transpose; tiled 64x64 in workgroup memory.',
          {'abs': 1e-5, 'rel': 1e-5}, cases)

# ---- layer norm -----------------------------------------------------------------------------------------
def ln_fwd(X, g, b, eps=1e-6):
    mu = X.mean(-1, keepdim=True)
    var = ((X - mu) ** 2).mean(-1, keepdim=True)
    rs = 1 / torch.sqrt(var + eps)
    return g * (X - mu) * rs + b, mu.squeeze(-1), rs.squeeze(-1)


def layernorm_cases():
    fw, bw = [], []
    for i, (rows, W, scale, shift) in enumerate([(3, 8, 1.0, 0.0), (2, 70, 2.0, 5.0), (1, 1, 1.0, 0.0)]):
        s = 400 + 10 * i
        X = rnd(s, (rows, W)) * scale + shift
        X = f32(X)
        g = rnd(s + 1, (W,), 0.5, 1.5)
        b = rnd(s + 2, (W,))
        dY = rnd(s + 3, (rows, W))
        dX0 = rnd(s + 4, (rows, W))
        Y, mu, rs = ln_fwd(t(X), t(g), t(b))
        fw.append({'name': 'torch: rows=%d W=%d' % (rows, W), 'dims': {'rows': rows, 'W': W, 'eps': 1e-6},
                   'inputs': {'X': lst(X), 'gamma': lst(g), 'beta': lst(b)},
                   'expected': {'Y': lst(Y.detach().numpy()), 'mean': lst(mu.detach().numpy()), 'rstd': lst(rs.detach().numpy())}})
        Xt, gt, bt = t(X, True), t(g, True), t(b, True)
        Y2, _, _ = ln_fwd(Xt, gt, bt)
        (Y2 * t(dY)).sum().backward()
        g0 = rnd(s + 5, (W,))
        b0 = rnd(s + 6, (W,))
        for acc in (False, True):
            dX = Xt.grad.numpy() + (dX0 if acc else 0)
            inputs = {'X': lst(X), 'gamma': lst(g), 'mean': lst(f32(mu.detach().numpy())), 'rstd': lst(f32(rs.detach().numpy())), 'dY': lst(dY)}
            if acc:  # accumulate into dX and into the parameter gradients (micro-batches)
                inputs['dX'] = lst(dX0)
                inputs['dgamma'] = lst(g0)
                inputs['dbeta'] = lst(b0)
            bw.append({'name': 'torch: rows=%d W=%d%s' % (rows, W, ' accumulate' if acc else ''),
                       'dims': {'rows': rows, 'W': W, 'accumulate': acc, 'paramGrad': True, 'paramAccumulate': acc}, 'inputs': inputs,
                       'expected': {'dX': lst(dX), 'dgamma': lst(gt.grad.numpy() + (g0 if acc else 0)), 'dbeta': lst(bt.grad.numpy() + (b0 if acc else 0))}})
    fw.append({'name': 'hand: constant row gives beta (variance 0)', 'dims': {'rows': 1, 'W': 4, 'eps': 1e-6},
               'inputs': {'X': [3, 3, 3, 3], 'gamma': [1, 2, 3, 4], 'beta': [0.5, -1, 0, 2]},
               'expected': {'Y': [0.5, -1, 0, 2], 'mean': [3], 'rstd': [1000]}})
    fw.append({'name': 'gen: 200 tokens x 256', 'dims': {'rows': 200, 'W': 256, 'eps': 1e-6}, 'inputs': {'X': uni(450, -3, 3), 'gamma': uni(451), 'beta': uni(452)}, 'expected': 'twin'})
    fw.append({'name': 'gen: 130 tokens x 512, offset mean', 'dims': {'rows': 130, 'W': 512, 'eps': 1e-6}, 'inputs': {'X': uni(453, 9, 11), 'gamma': uni(454), 'beta': uni(455)}, 'expected': 'twin'})
    bw.append({'name': 'hand: paramGrad false leaves dgamma/dbeta out', 'dims': {'rows': 1, 'W': 3, 'paramGrad': False},
               'inputs': {'X': [1, 2, 6], 'gamma': [1, 1, 1], 'mean': [3], 'rstd': [0.5], 'dY': [1, 0, 0]},
               'expected': {'dX': [1 / 6, -1 / 4, 1 / 12], 'dgamma': [], 'dbeta': []}})
    bw.append({'name': 'gen: 200 x 256, accumulate', 'dims': {'rows': 200, 'W': 256, 'accumulate': True, 'paramGrad': True},
               'inputs': {'X': uni(460), 'gamma': uni(461), 'mean': uni(462, -0.1, 0.1), 'rstd': uni(463, 0.5, 2), 'dY': uni(464), 'dX': uni(465)}, 'expected': 'twin'})
    bw.append({'name': 'gen: 130 x 512', 'dims': {'rows': 130, 'W': 512, 'paramGrad': True},
               'inputs': {'X': uni(466), 'gamma': uni(467), 'mean': uni(468, -0.1, 0.1), 'rstd': uni(469, 0.5, 2), 'dY': uni(470)}, 'expected': 'twin'})
    write('layerNormForward', 'Y = gamma (X - mean) rstd + beta, biased variance, eps 1e-6; saves mean and rstd.', {'abs': 2e-6, 'rel': 2e-5}, fw)
    write('layerNormBackward', 'dX (optionally += into dX), dgamma, dbeta from the saved mean and rstd.', {'abs': 1e-5, 'rel': 1e-4}, bw)

# ---- attention ------------------------------------------------------------------------------------------
def attn_torch(qkv, lens, S, T, H, HD, scale):
    W = H * HD
    x = qkv.reshape(S, T, 3, H, HD)
    q, k, v = x[:, :, 0].transpose(1, 2), x[:, :, 1].transpose(1, 2), x[:, :, 2].transpose(1, 2)  # [S,H,T,HD]
    scores = (q * scale) @ k.transpose(-1, -2)
    scores.retain_grad()
    keymask = torch.tensor([[1.0 if j < L else 0.0 for j in range(T)] for L in lens])
    biased = scores + (1 - keymask)[:, None, None, :] * -1e9
    P = torch.softmax(biased, -1) * keymask[:, None, :, None]  # padded query rows -> 0
    A = (P @ v).transpose(1, 2).reshape(S, T, W)
    return A, P, scores


def attention_cases():
    fw, bw = [], []
    configs = [
        ('2 seqs (len 3, 1), T=3, 2 heads x 2', 2, 3, 2, 2, [3, 1], 0.7),
        ('3 seqs (len 4, 0, 2), T=4, 1 head x 3', 3, 4, 1, 3, [4, 0, 2], 0.5),
        ('1 seq len 5 of T=6, 3 heads x 4', 1, 6, 3, 4, [5], 0.125),
    ]
    for i, (name, S, T, H, HD, lens, scale) in enumerate(configs):
        s = 500 + 10 * i
        W = H * HD
        qkv = rnd(s, (S * T, 3 * W), -2, 2)
        dA = rnd(s + 1, (S * T, W))
        for si, L in enumerate(lens):  # the loss sees only valid rows (pooling masks the rest)
            dA[si * T + L:(si + 1) * T] = 0.0
        q = t(qkv, True)
        A, P, scores = attn_torch(q, lens, S, T, H, HD, scale)
        dims = {'seqs': S, 'T': T, 'heads': H, 'headDim': HD, 'scale': scale}
        fw.append({'name': 'torch: ' + name, 'dims': dims, 'inputs': {'qkv': lst(qkv), 'lens': lens},
                   'expected': {'A': lst(A.detach().numpy()), 'P': lst(P.detach().numpy())}})
        (A * t(dA).reshape(A.shape)).sum().backward()
        bw.append({'name': 'torch: ' + name, 'dims': dims,
                   'inputs': {'qkv': lst(qkv), 'lens': lens, 'P': lst(f32(P.detach().numpy())), 'A': lst(f32(A.detach().numpy())), 'dA': lst(dA)},
                   'expected': {'dqkv': lst(q.grad.numpy()), 'dS': lst(scores.grad.numpy())}})
    fw.append({'name': 'hand: one key gets all the weight', 'dims': {'seqs': 1, 'T': 2, 'heads': 1, 'headDim': 1, 'scale': 1},
               'inputs': {'qkv': [1, 0, 5, 2, 100, 7], 'lens': [1]},
               'expected': {'A': [5, 0], 'P': [1, 0, 0, 0]}})
    fw.append({'name': 'gen: L0 shape, 3 seqs (64, 1, 37) of T=64, 4 heads x 64', 'dims': {'seqs': 3, 'T': 64, 'heads': 4, 'headDim': 64, 'scale': 0.125},
               'inputs': {'qkv': uni(560), 'lens': [64, 1, 37]}, 'expected': 'twin'})
    fw.append({'name': 'gen: L1 shape, 2 seqs (128, 90) of T=128, 4 heads x 128', 'dims': {'seqs': 2, 'T': 128, 'heads': 4, 'headDim': 128, 'scale': 0.08838834764831845},
               'inputs': {'qkv': uni(561), 'lens': [128, 90]}, 'expected': 'twin'})
    bw.append({'name': 'gen: L0 shape, 3 seqs (40, 1, 17) of T=40, 4 heads x 64', 'dims': {'seqs': 3, 'T': 40, 'heads': 4, 'headDim': 64, 'scale': 0.125},
               'generate': {'kind': 'attentionBackward', 'seed': 562, 'lens': [40, 1, 17]}, 'expected': 'twin'})
    bw.append({'name': 'gen: L1 shape, 2 seqs (33, 64) of T=64, 4 heads x 128', 'dims': {'seqs': 2, 'T': 64, 'heads': 4, 'headDim': 128, 'scale': 0.08838834764831845},
               'generate': {'kind': 'attentionBackward', 'seed': 563, 'lens': [33, 64]}, 'expected': 'twin'})
    write('attentionForward', 'Per (sequence, head, query): softmax((q.k) scale over keys < len) @ v; padded queries give 0; saves P.', {'abs': 2e-6, 'rel': 2e-5}, fw)
    write('attentionBackward', 'dq, dk, dv (fused dqkv) through the softmax from the saved P and output A; dS = dL/dscores.', {'abs': 1e-5, 'rel': 1e-4}, bw)

# ---- elementwise and small ops ---------------------------------------------------------------------------
def small_cases():
    X = f32([-30, -2, -0.5, 0, 1e-3, 0.75, 3, 30, 100])
    Y = torch.tanh(t(X)).numpy()
    write('tanhForward', 'tanh(x) via exp(-2|x|) (no overflow).', {'abs': 1e-6, 'rel': 1e-6}, [
        {'name': 'torch: signs, zero, saturation', 'dims': {'n': len(X)}, 'inputs': {'X': lst(X)}, 'expected': {'Y': lst(Y)}},
        {'name': 'gen: 8 items x 512', 'dims': {'n': 4096}, 'inputs': {'X': uni(600, -4, 4)}, 'expected': 'twin'},
    ])
    Xt = t(X, True)
    dY = rnd(601, (len(X),))
    (torch.tanh(Xt) * t(dY)).sum().backward()
    write('tanhBackward', 'dX = dY (1 - Y^2) from the forward output Y.', {'abs': 1e-6, 'rel': 1e-5}, [
        {'name': 'torch: autograd of tanh', 'dims': {'n': len(X)}, 'inputs': {'Y': lst(f32(Y)), 'dY': lst(dY)}, 'expected': {'dX': lst(Xt.grad.numpy())}},
        {'name': 'gen: 8 items x 512', 'dims': {'n': 4096}, 'inputs': {'Y': uni(602), 'dY': uni(603)}, 'expected': 'twin'},
    ])
    A = rnd(610, (7,))
    B = rnd(611, (7,))
    write('add', 'Y = A + B.', {'abs': 0, 'rel': 0}, [
        {'name': 'torch: 7 values', 'dims': {'n': 7}, 'inputs': {'A': lst(A), 'B': lst(B)}, 'expected': {'Y': lst(f32(A + B))}},
        {'name': 'gen: 300 tokens x 512', 'dims': {'n': 153600}, 'inputs': {'A': uni(612), 'B': uni(613)}, 'expected': 'twin'},
    ])
    dY = rnd(620, (5, 3))
    acc0 = rnd(621, (3,))
    write('biasGrad', 'db = column sums of dY (+ db when accumulating).', {'abs': 1e-6, 'rel': 1e-6}, [
        {'name': 'torch: 5x3', 'dims': {'M': 5, 'N': 3}, 'inputs': {'dY': lst(dY)}, 'expected': {'db': lst(dY.sum(0))}},
        {'name': 'torch: 5x3 accumulate', 'dims': {'M': 5, 'N': 3, 'accumulate': True}, 'inputs': {'dY': lst(dY), 'db': lst(acc0)}, 'expected': {'db': lst(dY.sum(0) + acc0)}},
        {'name': 'hand: M=0', 'dims': {'M': 0, 'N': 2}, 'inputs': {'dY': []}, 'expected': {'db': [0, 0]}},
        {'name': 'gen: 300 tokens x 1536', 'dims': {'M': 300, 'N': 1536}, 'inputs': {'dY': uni(622)}, 'expected': 'twin', 'tolerance': {'abs': 1e-4, 'rel': 1e-5}},
    ])
    # mean pooling
    S, T, W, lens = 3, 4, 5, [4, 0, 1]
    X = rnd(630, (S, T, W))
    Xt = t(X, True)
    mask = torch.tensor([[1.0 if j < L else 0.0 for j in range(T)] for L in lens])
    pooled = (Xt * mask[:, :, None]).sum(1) / torch.clamp(mask.sum(1), min=1)[:, None]
    dO = rnd(631, (S, W))
    (pooled * t(dO)).sum().backward()
    dims = {'seqs': S, 'T': T, 'W': W}
    write('meanPoolForward', 'out[b] = sum of the first len_b rows / max(len_b, 1).', {'abs': 1e-6, 'rel': 1e-6}, [
        {'name': 'torch: lens 4, 0, 1 of T=4', 'dims': dims, 'inputs': {'X': lst(X), 'lens': lens}, 'expected': {'out': lst(pooled.detach().numpy())}},
        {'name': 'gen: 3 seqs of T=64 x 512', 'dims': {'seqs': 3, 'T': 64, 'W': 512}, 'inputs': {'X': uni(632), 'lens': [64, 1, 30]}, 'expected': 'twin'},
    ])
    write('meanPoolBackward', 'dX[b, t] = dOut[b] / len_b for t < len_b, else 0.', {'abs': 1e-7, 'rel': 1e-6}, [
        {'name': 'torch: lens 4, 0, 1 of T=4', 'dims': dims, 'inputs': {'dOut': lst(dO), 'lens': lens}, 'expected': {'dX': lst(Xt.grad.numpy())}},
        {'name': 'gen: 3 seqs of T=64 x 512', 'dims': {'seqs': 3, 'T': 64, 'W': 512}, 'inputs': {'dOut': uni(633), 'lens': [64, 1, 30]}, 'expected': 'twin'},
    ])
    # l2 normalise (third row is zero: the floor)
    X = rnd(640, (3, 6))
    X[2] = 0
    X[1] *= 1e-3
    Xt = t(X, True)
    Y = Xt / torch.sqrt(torch.clamp((Xt * Xt).sum(-1, keepdim=True), min=1e-12))
    dY = rnd(641, (3, 6))
    (Y * t(dY)).sum().backward()
    write('l2NormForward', 'Y = X / sqrt(max(sum X^2, 1e-12)).', {'abs': 1e-6, 'rel': 1e-5}, [
        {'name': 'torch: ordinary, small and zero rows', 'dims': {'rows': 3, 'W': 6}, 'inputs': {'X': lst(X)}, 'expected': {'Y': lst(Y.detach().numpy())}},
        {'name': 'gen: 16 x 512', 'dims': {'rows': 16, 'W': 512}, 'inputs': {'X': uni(642)}, 'expected': 'twin'},
    ])
    write('l2NormBackward', 'dX = r (dY - Y (Y.dY)); dY / 1e-6 where the floor is active.', {'abs': 1e-5, 'rel': 1e-5}, [
        {'name': 'torch: autograd, ordinary, small and zero rows', 'dims': {'rows': 3, 'W': 6}, 'inputs': {'X': lst(X), 'dY': lst(dY)}, 'expected': {'dX': lst(Xt.grad.numpy())}},
        {'name': 'gen: 16 x 512', 'dims': {'rows': 16, 'W': 512}, 'inputs': {'X': uni(643), 'dY': uni(644)}, 'expected': 'twin'},
    ])
    # USE input layer
    V, W, P = 5, 4, 6
    E = rnd(650, (V, W))
    PE = rnd(651, (P, W))
    ids = [[2, 0, 4], [1, 3, 3]]
    lens = [3, 1]
    Xo = np.zeros((2, 3, W))
    for b in range(2):
        for s in range(lens[b]):
            Xo[b, s] = (2 * t(E)[ids[b][s]] + t(PE)[s]).numpy()
    write('useEmbedding', 'X[b, t] = 2 E[id] + PE[t] for t < len_b, else 0.', {'abs': 1e-6, 'rel': 1e-6}, [
        {'name': 'torch: 2 seqs (3, 1) of T=3', 'dims': {'seqs': 2, 'T': 3, 'vocab': V, 'W': W, 'maxPositions': P},
         'inputs': {'E': lst(E), 'PE': lst(PE), 'ids': sum(ids, []), 'lens': lens}, 'expected': {'X': lst(f32(Xo))}},
        {'name': 'gen: USE shape, 3 seqs of T=50', 'dims': {'seqs': 3, 'T': 50, 'vocab': 8002, 'W': 256, 'maxPositions': 128},
         'inputs': {'E': uni(652), 'PE': uni(653), 'ids': {'ints': [0, 8001], 'seed': 654}, 'lens': [50, 1, 0]}, 'expected': 'twin'},
    ])


matmul_cases()
layernorm_cases()
attention_cases()
small_cases()
print('wrote cases to', os.path.normpath(OUT))
