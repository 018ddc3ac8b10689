"""The memory estimator checked on CPU, where no GPU peak can be measured: exact parameter counts (llmbook.vram's
formula vs the transformers model built on the meta device, for every shipped config) and the activation model
(`stored_activations`) vs the bytes autograd really saves (`saved_tensor_bytes`, counted with saved_tensors_hooks).

    python bench/vram_cpu.py [--tiny] [--out bench/results/vram_cpu.json]

GPU peaks (estimate vs `torch.cuda.max_memory_allocated`) come from bench/vram_measure.py on a GPU; stored results
are in bench/results/gpu-2026-11-30/.
"""
import argparse, json, os, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]

def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--tiny', action='store_true', help='one config, one tiny model (seconds): checks the script')
    p.add_argument('--out', default=str(ROOT/'bench'/'results'/'vram_cpu.json'))
    a = p.parse_args(argv)
    import torch
    from transformers import AutoModelForCausalLM
    from llmbook.vram import shipped_models, arch, param_count, meta_param_count, load_config, saved_tensor_bytes, stored_activations
    t0 = time.time()
    models = ['lab'] + ([] if a.tiny else shipped_models())
    counts = [dict(model=m, formula=param_count(arch(m)), meta=meta_param_count(m)) for m in models]
    base = dict(vocab_size=512, hidden_size=128, intermediate_size=384, num_hidden_layers=2, num_attention_heads=4,
                num_key_value_heads=2, max_position_embeddings=512)
    cases = [('llama', 'sdpa')] if a.tiny else [('llama', 'sdpa'), ('qwen2', 'sdpa'), ('llama', 'eager'), ('gemma2', 'eager')]
    acts = []
    for mt, at in cases:
        cfg = load_config({'model_type': mt} | base | (dict(head_dim=32, sliding_window=64) if mt == 'gemma2' else {}))
        torch.manual_seed(0); m = AutoModelForCausalLM.from_config(cfg, attn_implementation=at).train()
        ids = torch.randint(0, cfg.vocab_size, (2, 64) if a.tiny else (4, 128))
        for name, ac, e in [('fp32', None, 4)] + ([] if a.tiny else [('bf16 autocast', torch.bfloat16, 2)]):
            got = saved_tensor_bytes(m, ids, ac)
            want = stored_activations(arch(cfg), *ids.shape, e=e, r=4, attn=at, cast_weights=ac is not None)
            acts.append(dict(model=mt, attn=at, mode=name, measured_bytes=got, formula_bytes=int(want), ratio=round(want/got, 4)))
    ratios = [r['ratio'] for r in acts]
    res = dict(setup=dict(tiny=a.tiny, torch=torch.__version__, loadavg_1min=round(os.getloadavg()[0], 2)),
               param_counts_exact=sum(c['formula'] == c['meta'] for c in counts), param_counts=len(counts), counts=counts,
               activation_ratio_min=min(ratios), activation_ratio_max=max(ratios), activations=acts, seconds=round(time.time() - t0, 1))
    print(json.dumps({k: v for k, v in res.items() if k not in ('counts', 'activations')}, indent=1))
    Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(json.dumps(res, indent=1) + '\n')
    return 0

if __name__ == '__main__': sys.exit(main())
