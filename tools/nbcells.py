"""Cell directives and flags shared by the harness runners (`tools/rehearse.py`, `tools/reader_run.py`).

nbdev reads `#| name args` lines at the top of a code cell. The harness adds one convention: a `#| cuda` cell whose
first comment line is `# needs-cuda: <reason>` needs CUDA itself (e.g. a peak-memory measurement); the rehearsal
skips it and lists the reason.
"""
from __future__ import annotations
import ast, builtins, json, re
from pathlib import Path

SKIP_FLAGS = ('notest', 'slow', 'cuda')   # what `nbdev-test` skips by default (`tst_flags` in pyproject.toml)
_DIR = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_NEEDS = re.compile(r'^\s*#\s*needs-cuda:\s*(.+?)\s*$')

def directives(src:str)->dict:
    "The `#| name args` lines at the top of a cell, as {name: args}."
    out = {}
    for line in src.splitlines():
        if not line.strip(): continue
        m = _DIR.match(line)
        if not m: break
        out[m.group(1).lower()] = m.group(2)
    return out

def body(src:str)->str:
    "The cell source without its directive lines."
    lines = src.splitlines()
    i = 0
    while i < len(lines) and (not lines[i].strip() or _DIR.match(lines[i])): i += 1
    return '\n'.join(lines[i:])

def needs_cuda(src:str)->str|None:
    "The reason from a `# needs-cuda: <reason>` first comment line, or None."
    for line in body(src).splitlines():
        if not line.strip(): continue
        m = _NEEDS.match(line)
        return m.group(1) if m else None
    return None

def eval_false(d:dict)->bool: return d.get('eval', '').strip().lower() == 'false'

def skipped_by_nbdev_test(src:str)->str|None:
    "Why `nbdev-test` (default flags) does not run this cell, or None when it does."
    d = directives(src)
    if eval_false(d): return 'eval: false'
    for f in SKIP_FLAGS:
        if f in d: return f
    return None

def code_cells(nb:dict)->list:
    "(index, source) of every code cell; indices count all cells, as editors and nbdev show them."
    return [(i, ''.join(c['source'])) for i, c in enumerate(nb['cells']) if c['cell_type'] == 'code']

def load(path)->dict: return json.loads(Path(path).read_text(encoding='utf-8'))

# ---------------------------------------------------------------------------------------------- name analysis
def _parse(src:str):
    lines = [l for l in body(src).splitlines() if not l.lstrip().startswith(('%', '!'))]   # IPython magics
    try: return ast.parse('\n'.join(lines))
    except SyntaxError: return None

def bound_names(src:str)->set:
    "Names a cell binds at top level (assignments, imports, defs, loop and with targets)."
    tree, out = _parse(src), set()
    if tree is None: return out
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): out.add(node.name)
        elif isinstance(node, ast.Import): out |= {a.asname or a.name.split('.')[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom): out |= {a.asname or a.name for a in node.names if a.name != '*'}
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store): out.add(node.id)
        elif isinstance(node, ast.NamedExpr): out.add(node.target.id)
        elif isinstance(node, ast.arg): out.add(node.arg)
    return out

def free_names(src:str)->set:
    "Names a cell reads that it does not bind itself and that are not builtins."
    tree = _parse(src)
    if tree is None: return set()
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - bound_names(src) - set(dir(builtins)) - {'display', 'get_ipython'}

def is_definition_cell(src:str)->bool:
    "A cell that only imports, defines functions/classes or assigns literal constants (no side effects)."
    tree = _parse(src)
    if tree is None or not tree.body: return False
    def ok(stmt):
        if isinstance(stmt, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)): return True
        if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
            if isinstance(stmt.value, ast.Lambda): return True
            try: ast.literal_eval(stmt.value); return True
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError): return False
        if isinstance(stmt, ast.Try):   # `try: import x` / `except ImportError: x = None`
            return all(ok(s) for s in stmt.body + stmt.orelse + stmt.finalbody) and \
                   all(all(ok(s) or isinstance(s, ast.Pass) for s in h.body) for h in stmt.handlers)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant): return True   # docstring
        return False
    return all(ok(s) for s in tree.body)
