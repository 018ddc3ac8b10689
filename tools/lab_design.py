"""Design measurements for the embedded lab, stored in llmbook/assets/lab/design.json (chapter 00 shows them).

    python tools/lab_design.py pretrain ID --question "..." [--seed S] [--drop TASK ...] [--phrasings K] [--arch JSON] [--steps N]
        pretrain a candidate base on the corpus (without --drop tasks, with only the first K phrasings of each item),
        measure prose and chat accuracy, then SFT it on the tour tasks with two budgets (150 x 32 and 300 x 16), and
        add_steps with the problem right before the chat markup ('逐位計算 37+48'), and measure held-out accuracy.
    python tools/lab_design.py shipped [--parts tour steps student] [--seeds 0 1 2] [--budgets 100 200 300] [--base DIR --tok DIR]
        measurements on the shipped models: the tour's SFT over seeds, direct answers vs worked steps at equal SFT
        budgets, and the student trained with the teacher's SFT recipe.
    python tools/lab_design.py teacher ID DIR [--note "..."]
        record a teacher candidate built with `lab.build(out=DIR, names=['teacher'])` (chapter 00 compares them).

Runs are CPU-heavy: run them with `nice`, one at a time. Each record keeps its wall time, thread count and load
average (above 2 on 2 cores means the machine was shared), so timings taken under contention can be told apart.
"""
import argparse, json, os, time, tempfile
from pathlib import Path
os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('TOKENIZERS_PARALLELISM', 'false')
from llmbook import lab

DESIGN = Path(lab.__file__).parent/'assets'/'lab'/'design.json'
N = 200   # held-out items per task in every measurement here

def load(): return json.loads(DESIGN.read_text()) if DESIGN.exists() else dict(runs=[], shipped={})

def save(d):
    tmp = DESIGN.with_suffix('.tmp'); tmp.write_text(json.dumps(d, indent=1, ensure_ascii=False)); os.replace(tmp, DESIGN)

def sft_run(path, tok, name, tasks, eval_tasks, **kw):
    "SFT the model saved in `path`, then measure held-out accuracy on `eval_tasks`."
    m = lab.model(path=path); t0 = time.time()
    m, losses = lab.sft(m, tok, tasks, **kw)
    secs = time.time() - t0
    r = dict(name=name, tasks=tasks, **kw, seconds=round(secs, 1), load=round(os.getloadavg()[0], 2),
             loss=round(losses[-1], 4), acc={t: lab.evaluate(m, tok, t, N) for t in eval_tasks})
    print(json.dumps(r, ensure_ascii=False), flush=True)
    return r

def _adjacent_item(x):
    "add_steps with the problem right before the chat markup ('逐位計算 37+48'): the prompt format tried first."
    return dict(lab._steps_item(x), prompt=f'逐位計算 {x[0]}+{x[1]}')

def cmd_pretrain(a):
    work = Path(tempfile.gettempdir())/'lab-design'/a.id
    if a.phrasings < 4:
        for t, spec in list(lab.TASKS.items()):
            f = spec['item']; lab.TASKS[t] = dict(spec, item=lambda x, f=f: dict(f(x), prose=f(x)['prose'][:a.phrasings]))
    tasks = [t for t in lab.TASKS if t not in a.drop]
    lab.TASKS['add_steps_adjacent'] = dict(lab.TASKS['add_steps'], item=_adjacent_item)
    texts = lab.corpus(tasks=tasks)
    tok = lab.train_tokenizer(texts + lab.script_texts()); tok.save_pretrained(str(work/'tok'))
    rec = dict(id=a.id, question=a.question, seed=a.seed, corpus_tasks=tasks, phrasings=a.phrasings, steps=a.steps,
               arch=json.loads(a.arch), threads=lab.PRETRAIN['threads'], load_avg=[round(x, 2) for x in os.getloadavg()])
    t0 = time.time()
    m, losses = lab.pretrain(tok, texts, log_every=250, arch=json.loads(a.arch), steps=a.steps, seed=a.seed)
    rec.update(pretrain_seconds=round(time.time()-t0, 1), n_params=m.num_parameters(), final_loss=round(sum(losses[-50:])/50, 4))
    rec['load_avg'] += [round(x, 2) for x in os.getloadavg()]
    m.save_pretrained(str(work/'base'))
    rec['sha256'] = lab.sha256(work/'base'/'model.safetensors')
    rec['prose'] = {t: lab.prose_accuracy(m, tok, t, N) for t in tasks}
    rec['chat'] = {t: lab.evaluate(m, tok, t, N) for t in tasks}
    base = str(work/'base')
    rec['sft'] = [sft_run(base, tok, 'mix 150x32', lab.TOUR_TASKS, lab.TOUR_TASKS, steps=150, batch_size=32),
                  sft_run(base, tok, 'mix 300x16', lab.TOUR_TASKS, lab.TOUR_TASKS, steps=300, batch_size=16),
                  sft_run(base, tok, 'add_steps 300x16', ['add_steps'], ['add_steps'], steps=300, batch_size=16),
                  sft_run(base, tok, 'adjacent 300x16', ['add_steps_adjacent'], ['add_steps_adjacent'], steps=300, batch_size=16)]
    d = load(); d['runs'] = [r for r in d['runs'] if r['id'] != a.id] + [rec]; save(d)

def cmd_shipped(a):
    tok, d = lab.tokenizer(a.tok), load()
    base = a.base or str(lab._assets()/'base')
    out = d.setdefault('shipped', {})
    out['base_sha256'] = lab.sha256(Path(base)/'model.safetensors')   # chapter 00 checks these runs used the shipped weights
    if 'tour' in a.parts:     # the tour's default SFT over seeds
        out['tour'] = [sft_run(base, tok, 'tour', lab.TOUR_TASKS, lab.TOUR_TASKS, seed=s) for s in a.seeds]; save(d)
    if 'steps' in a.parts:    # direct answers vs worked steps at equal SFT budgets, one task at a time
        out['steps_vs_plain'] = [sft_run(base, tok, t, [t], [t], steps=k, seed=s)
                                 for k in a.budgets for t in ('add', 'add_steps', 'add3_steps') for s in a.seeds]; save(d)
    if 'student' in a.parts:  # the base trained exactly like the teacher's SFT
        spec = dict(lab.TEACHER['sft']); tasks = spec.pop('tasks') or list(lab.TASKS)
        out['student'] = [sft_run(base, tok, 'student', tasks, list(lab.TASKS), seed=s, **spec) for s in a.seeds]; save(d)

def cmd_teacher(a):
    "Record a teacher candidate built with `lab.build(out=DIR, names=['teacher'])` (its manifest entry, minus hashes)."
    m = json.loads((Path(a.dir)/'manifest.json').read_text())['models']['teacher']
    rec = dict(id=a.id, note=a.note, **{k: v for k, v in m.items() if k != 'sha256'})
    if 'sft' in rec: rec['sft'] = {k: v for k, v in rec['sft'].items() if k != 'losses'}
    d = load(); d['teachers'] = [r for r in d.get('teachers', []) if r['id'] != a.id] + [rec]; save(d)

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest='cmd', required=True)
    q = sub.add_parser('pretrain')
    q.add_argument('id'); q.add_argument('--question', default='')
    q.add_argument('--seed', type=int, default=0); q.add_argument('--drop', nargs='*', default=[])
    q.add_argument('--phrasings', type=int, default=4); q.add_argument('--arch', default='{}')
    q.add_argument('--steps', type=int, default=lab.PRETRAIN['steps'])
    s = sub.add_parser('shipped')
    s.add_argument('--seeds', nargs='*', type=int, default=[0, 1, 2])
    s.add_argument('--budgets', nargs='*', type=int, default=[100, 200, 300])
    s.add_argument('--parts', nargs='*', default=['tour', 'steps', 'student'])
    s.add_argument('--base', help='base model directory (default: the shipped one)')
    s.add_argument('--tok', help='tokenizer directory (default: the shipped one)')
    t = sub.add_parser('teacher')
    t.add_argument('id'); t.add_argument('dir'); t.add_argument('--note', default='')
    a = p.parse_args()
    dict(pretrain=cmd_pretrain, shipped=cmd_shipped, teacher=cmd_teacher)[a.cmd](a)
