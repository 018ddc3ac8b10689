"""Our NF4 (llmbook.qlora, chapter 6) vs bitsandbytes' `quantize_4bit` on CPU: reconstruction error of the same weights,
as a ratio measured in one run, plus how many 4-bit codes agree (bitsandbytes packs two codes per byte, high nibble first).

    python bench/nf4_error.py [--tiny] [--out bench/results/nf4_error.json]

Weights: seeded Gaussian matrices and every linear weight of the shipped lab model. Blocks of 64, no double quantization
(the absmax statistics are compared in fp32 on both sides).
"""
import argparse, json, os, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]

def errors(w, blocksize=64):
    import torch
    import bitsandbytes.functional as F
    from llmbook.qlora import nf4_quantize, nf4_dequantize
    q, absmax = nf4_quantize(w, blocksize)
    ours = nf4_dequantize(q, absmax, w.shape)
    packed, state = F.quantize_4bit(w, blocksize=blocksize, quant_type='nf4', compress_statistics=False)
    bnb = F.dequantize_4bit(packed, state)
    b = packed.flatten()
    codes = torch.stack([b >> 4, b & 15], 1).flatten()[:w.numel()]
    rel = lambda x: ((x - w).norm() / w.norm()).item()
    return dict(numel=w.numel(), ours_rel_error=rel(ours), bnb_rel_error=rel(bnb), ours_mean_abs=(ours - w).abs().mean().item(),
                bnb_mean_abs=(bnb - w).abs().mean().item(), codes_equal=(codes == q).float().mean().item(),
                max_abs_between=(ours - bnb).abs().max().item())

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiny', action='store_true', help='one small matrix (seconds): checks the script')
    p.add_argument('--out', default=str(ROOT/'bench'/'results'/'nf4_error.json'))
    a = p.parse_args(argv)
    import torch, bitsandbytes
    torch.manual_seed(0)
    mats = {'gaussian 256x256': torch.randn(256, 256)} if a.tiny else {
        'gaussian 1024x1024': torch.randn(1024, 1024), 'gaussian 4096x1024 (x0.02)': 0.02*torch.randn(4096, 1024),
        'heavy-tailed (t, 3 dof) 1024x1024': torch.distributions.StudentT(3.).sample((1024, 1024))}
    if not a.tiny:
        from llmbook import lab
        m = lab.model()
        for n, mod in m.named_modules():
            if isinstance(mod, torch.nn.Linear) and mod.weight.numel() % 64 == 0: mats[f'lab {n}'] = mod.weight.detach().float()
    t0 = time.time()
    rows = [dict(weights=k, **errors(w)) for k, w in mats.items()]
    n = sum(r['numel'] for r in rows)
    wavg = lambda k: sum(r[k]*r['numel'] for r in rows) / n
    res = dict(setup=dict(tiny=a.tiny, blocksize=64, double_quant=False, bitsandbytes=bitsandbytes.__version__, torch=torch.__version__,
                          matrices=len(rows), loadavg_1min=round(os.getloadavg()[0], 2)),
               ratio_ours_over_bnb_rel_error=round(wavg('ours_rel_error')/wavg('bnb_rel_error'), 6),
               codes_equal=round(wavg('codes_equal'), 6), max_abs_between=max(r['max_abs_between'] for r in rows),
               rows=[{k: (round(v, 7) if isinstance(v, float) else v) for k, v in r.items()} for r in rows], seconds=round(time.time() - t0, 2))
    print(json.dumps({k: v for k, v in res.items() if k != 'rows'}, indent=1))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    return 0

if __name__ == '__main__': sys.exit(main())
