"""Independent numpy (float64) forward passes of Choi's released models, read straight from the
HDF5 datasets — no Keras, no kerasmgr. Written from ``../shared/specs/choi_weights.md``:
Kapre 0.1's strided-convolution STFT (TF 'SAME' framing; on Theano a true convolution with 'half'
padding), batch-wide dB maximum, Normalization2D, Keras 2 / Keras 1 mode-2 / Keras 1.0.x batch
normalisation, Keras 1 GRU; inputs in the original (freq, time) layout.
"""

import re

import h5py
import numpy as np

POOLS_COMPACT = [(2, 4), (3, 4), (2, 5), (2, 4), (4, 4)]
POOLS_CNN2016 = [(2, 4), (2, 4), (2, 4), (3, 5), (4, 4)]
POOLS_CRNN2016 = [(2, 2), (3, 3), (4, 4), (4, 4)]


def ds(h5, name):
    """Dataset ``name`` of a group, with or without Keras' ``:0`` / ``_1:0`` suffixes."""
    for n in h5:
        if re.fullmatch(re.escape(name) + r"(_\d+)?(:0)?", n):
            return np.asarray(h5[n], dtype=np.float64)
    raise KeyError(name)


def conv_same(x, k, b):
    """Cross-correlation with zero 'same' padding. x (B,H,W,Cin), k (3,3,Cin,Cout)."""
    B, H, W, _ = x.shape
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    out = np.zeros((B, H, W, k.shape[3])) + b
    for dy in range(3):
        for dx in range(3):
            out += xp[:, dy : dy + H, dx : dx + W, :] @ k[dy, dx]
    return out


def maxpool(x, ph, pw):
    B, H, W, C = x.shape
    h, w = H // ph, W // pw
    return x[:, : h * ph, : w * pw].reshape(B, h, ph, w, pw, C).max(axis=(2, 4))


def elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def theano_kernel(w):
    """Theano's true convolution as a cross-correlation kernel (3, 3, in, out)."""
    return w[:, :, ::-1, ::-1].transpose(2, 3, 1, 0)


def _db_batch_max(mel, per_clip):
    db = 10 * np.log10(np.maximum(mel, 1e-10))
    peak = db.max(axis=(1, 2), keepdims=True) if per_clip else db.max()
    return np.maximum(db - peak, -80.0)


def compact_keras2(path, x, *, per_clip=False):
    """``model_best.hdf5``: returns (tags (B, 50), features (B, 160) = GAP of elu_1..elu_5)."""
    x = np.asarray(x, dtype=np.float64)
    B, L = x.shape
    with h5py.File(path, "r") as f:
        g = f["model_weights"]
        real = ds(g["melgram/melgram"], "real_kernels")[:, 0, 0, :]
        imag = ds(g["melgram/melgram"], "imag_kernels")[:, 0, 0, :]
        fb = ds(g["melgram/melgram"], "Variable")
        T = -(-L // 256)
        total = max((T - 1) * 256 + 512 - L, 0)
        xp = np.zeros((B, (T - 1) * 256 + 512))
        xp[:, total // 2 : total // 2 + L] = x[:, : xp.shape[1] - total // 2]
        frames = np.stack([xp[:, t * 256 : t * 256 + 512] for t in range(T)], axis=1)
        power = (frames @ real) ** 2 + (frames @ imag) ** 2
        db = _db_batch_max(np.transpose(power @ fb, (0, 2, 1)), per_clip)  # (B, 96, T)
        mean = db.mean(axis=(1, 2), keepdims=True)
        std = db.std(axis=(1, 2), keepdims=True)
        h = ((db - mean) / (std + 1e-10))[..., None]
        feats = []
        for i, (ph, pw) in enumerate(POOLS_COMPACT, start=1):
            c = g[f"conv2d_{i}/conv2d_{i}"]
            h = conv_same(h, ds(c, "kernel"), ds(c, "bias"))
            bn = g[f"batch_normalization_{i}/batch_normalization_{i}"]
            h = ds(bn, "gamma") * (h - ds(bn, "moving_mean")) / np.sqrt(ds(bn, "moving_variance") + 1e-3) + ds(bn, "beta")
            h = elu(h)
            feats.append(h.mean(axis=(1, 2)))
            h = maxpool(h, ph, pw)
        h = h.max(axis=(1, 2))
        d = g["dense_1/dense_1"]
        return sigmoid(h @ ds(d, "kernel") + ds(d, "bias")), np.concatenate(feats, axis=1)


def compact_keras1_theano(path, x):
    """``weights_theano.hdf5`` on one batch: returns (tags, features = GAP after MP1..4, MP5)."""
    x = np.asarray(x, dtype=np.float64)
    B, L = x.shape
    with h5py.File(path, "r") as f:
        real = ds(f["melgram"], "param_0")[:, 0, 0, :]
        imag = ds(f["melgram"], "param_1")[:, 0, 0, :]
        fb = ds(f["melgram"], "param_2")
        T = -(-L // 256)
        xp = np.pad(x, ((0, 0), (256, 256 + 512)))  # 'half' padding (+ room for the last frame)
        # Theano: true convolution, stride 256: out[t] = sum_k xpad[256 t + k] * h[511 - k]
        segs = np.stack([xp[:, t * 256 : t * 256 + 512][:, ::-1] for t in range(T)], axis=1)
        power = (segs @ real) ** 2 + (segs @ imag) ** 2
        h = _db_batch_max(np.transpose(power @ fb, (0, 2, 1)), per_clip=False)[..., None]
        g = f["ConvBNEluDr"]
        feats = []
        for i, (ph, pw) in enumerate(POOLS_COMPACT, start=1):
            h = conv_same(h, theano_kernel(ds(g, f"convolution2d_{i}_W")), ds(g, f"convolution2d_{i}_b"))
            m = h.mean(axis=(0, 1, 2))
            v = h.var(axis=(0, 1, 2))
            h = ds(g, f"batchnormalization_{i}_gamma") * (h - m) / np.sqrt(v + 1e-3) + ds(g, f"batchnormalization_{i}_beta")
            h = maxpool(elu(h), ph, pw)
            feats.append(h.mean(axis=(1, 2)))
        h = h.reshape(B, -1)
        return sigmoid(h @ ds(f["dense_1"], "dense_1_W") + ds(f["dense_1"], "dense_1_b")), np.concatenate(feats, axis=1)


def _legacy_bn(h, g, name, axis, reading):
    """Keras 1.0.6 ('trained': running_std is a std, + 1e-6) or >= 1.0.7 ('published': a variance)."""
    shape = [1] * h.ndim
    shape[axis] = -1
    p = {k: ds(g, f"{name}_{k}").reshape(shape) for k in ("gamma", "beta", "running_mean", "running_std")}
    scale = np.sqrt(p["running_std"] + 1e-5) if reading == "published" else p["running_std"] + 1e-6
    return p["gamma"] * (h - p["running_mean"]) / scale + p["beta"]


def _hard_sigmoid(x):
    return np.clip(0.2 * x + 0.5, 0.0, 1.0)


def _gru(seq, g, name, return_sequences):
    W = {q: ds(g, f"{name}_W_{q}") for q in "zrh"}
    U = {q: ds(g, f"{name}_U_{q}") for q in "zrh"}
    b = {q: ds(g, f"{name}_b_{q}") for q in "zrh"}
    h = np.zeros((seq.shape[0], U["z"].shape[0]))
    outs = []
    for t in range(seq.shape[1]):
        xt = seq[:, t]
        z = _hard_sigmoid(xt @ W["z"] + h @ U["z"] + b["z"])
        r = _hard_sigmoid(xt @ W["r"] + h @ U["r"] + b["r"])
        hh = np.tanh(xt @ W["h"] + (r * h) @ U["h"] + b["h"])
        h = z * h + (1 - z) * hh
        outs.append(h)
    return np.stack(outs, axis=1) if return_sequences else h


def tagger2016(path, logmel, *, kind, theano, reading):
    """MusicTaggerCNN/CRNN from a log-mel input ``(B, 96, 1366)`` (librosa's, as the original)."""
    h = np.asarray(logmel, dtype=np.float64)[..., None]  # (B, 96, T, 1)
    with h5py.File(path, "r") as f:
        if kind == "crnn":
            h = np.pad(h, ((0, 0), (0, 0), (37, 37), (0, 0)))
        h = _legacy_bn(h, f["bn_0_freq"], "bn_0_freq", 2, reading)  # normalises along time
        pools = POOLS_CNN2016 if kind == "cnn" else POOLS_CRNN2016
        for i, (ph, pw) in enumerate(pools, start=1):
            w = ds(f[f"conv{i}"], f"conv{i}_W")
            k = theano_kernel(w) if theano else w.transpose(2, 3, 1, 0)
            h = conv_same(h, k, ds(f[f"conv{i}"], f"conv{i}_b"))
            h = maxpool(elu(_legacy_bn(h, f[f"bn{i}"], f"bn{i}", 3, reading)), ph, pw)
        if kind == "cnn":
            h = h.reshape(h.shape[0], -1)
        else:  # (B, 1, 15, C) -> (B, 15, C)
            h = _gru(_gru(h[:, 0], f["gru1"], "gru1", True), f["gru2"], "gru2", False)
        return sigmoid(h @ ds(f["output"], "output_W") + ds(f["output"], "output_b"))


def librosa_logmel(y):
    """Choi's audio_processor: mel power (centred, reflect-padded) squared, logamplitude(ref=1, top_db=80)."""
    import librosa

    mel = librosa.feature.melspectrogram(y=np.asarray(y, np.float64), sr=12000, n_fft=512, hop_length=256,
                                         n_mels=96, pad_mode="reflect")
    return librosa.power_to_db(mel ** 2, ref=1.0, amin=1e-10, top_db=80.0)
