#!/usr/bin/python3
"""Runs the published SymGNN (the PyTorch reference) on one structure and saves what a parity test
needs to compare our C++ model with it number for number (tests/test_parity.cpp).

Usage: torch_reference.py STRUCTURE.extxyz OUT.h5 --reference DIR [--seed S] [--threads T]
                          [--double] [--perturb SIGMA]

DIR holds symgnn_torch.py (../shared/reference). The model is built with torch.manual_seed(S),
dropout p = 0; the structure and its graph come from the reference's own load(), independently of
our C++ code. --double runs the model in float64 (the same float32 initial weights), with the
labels rounded to float32 in eV before standardising, as our reader stores them. --perturb adds
seeded N(0, SIGMA^2) noise to every parameter after initialisation. Needs Debian's python3-torch,
python3-numpy and python3-h5py.

OUT.h5 (attribute float_bits: 32 or 64, the precision of the results):
  /weights/<name>        every state_dict tensor before the step, float32 (attn as (H, d))
  /transforms            the reference's fixed transforms from its rot(), in float64, (k, 3, 3)
  /graph/num_nodes, /graph/num_edges
  /train/prediction (N), /train/loss      one training forward, MSE on standardised labels
  /grads/<name>          every parameter's gradient after loss.backward() (0 where torch has None)
  /buffers_after/<name>  the running statistics after the training forward
  /eval/prediction (N)   then an evaluation forward (model.eval(), no_grad)
"""
import argparse
import inspect
import os
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("structure")
    ap.add_argument("out")
    ap.add_argument("--reference", required=True, help="folder with symgnn_torch.py")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--double", action="store_true", help="run the model in float64")
    ap.add_argument("--perturb", type=float, default=0.0, metavar="SIGMA",
                    help="add N(0, SIGMA^2) noise to every parameter after initialisation")
    a = ap.parse_args()

    import h5py
    import numpy as np
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, os.path.abspath(a.reference))
    import symgnn_torch as ref

    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    model = ref.SymGNN()
    model.drop.p = 0.0
    if a.perturb:
        gen = torch.Generator().manual_seed(a.seed + 1)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(a.perturb * torch.randn(p.shape, generator=gen))

    def as_numpy(name, t):
        v = t.detach().numpy()
        return v.reshape(v.shape[1:]) if name.endswith(".attn") else v  # (1, H, d) -> (H, d)

    # The reference's transforms (its default angles), from its own rot() in float64.
    angles = inspect.signature(ref.SymGNN.__init__).parameters["transforms"].default
    torch.set_default_dtype(torch.float64)
    transforms = np.stack([ref.rot(*t).numpy() for t in angles])
    torch.set_default_dtype(torch.float32)
    for T, R in zip(transforms, model.transforms):
        assert np.allclose(T, R.numpy(), atol=1e-6), "float32 and float64 transforms differ"

    types, src, dst, x, y = ref.load([a.structure])
    if a.double:
        model.double()
        model.transforms = [torch.from_numpy(T) for T in transforms]
        x = x.double()
        eb = ref.read_extxyz(a.structure)[3].astype(np.float32).astype(np.float64)
        y = torch.from_numpy((eb - ref.MEAN) / ref.STD).view(-1, 1)
        torch.set_default_dtype(torch.float64)  # for the tensors the reference makes in forward

    with h5py.File(a.out, "w") as f:
        f.attrs["float_bits"] = np.int64(64 if a.double else 32)
        g = f.create_group("weights")
        for name, t in model.state_dict().items():
            v = as_numpy(name, t)
            g[name] = v.astype(np.float32) if t.is_floating_point() else v
        f["transforms"] = transforms
        f["graph/num_nodes"] = np.int64(types.shape[0])
        f["graph/num_edges"] = np.int64(src.shape[0])

        model.train()
        out = model(types, src, dst, x)
        loss = F.mse_loss(out, y)
        loss.backward()
        f["train/prediction"] = out.detach().numpy().reshape(-1)
        f["train/loss"] = np.float64(loss.item())
        g = f.create_group("grads")
        for name, p in model.named_parameters():
            # None where the loss does not depend on the parameter (the last layer's edge output)
            g[name] = as_numpy(name, p.grad if p.grad is not None else torch.zeros_like(p))
        g = f.create_group("buffers_after")
        for name, t in model.named_buffers():
            if t.is_floating_point():
                g[name] = as_numpy(name, t)

        model.eval()
        with torch.no_grad():
            f["eval/prediction"] = model(types, src, dst, x).numpy().reshape(-1)


if __name__ == "__main__":
    main()
