"""Field and turn checks behind `llmbook.data`'s converters: each appends `(field path, kind, message)` defects, never raises.
Plumbing of chapter 2 (no notebook); the kinds are the table `missing / empty / type / role / order` of that chapter."""
from __future__ import annotations

__all__ = ['check_text', 'check_order', 'check_turns', 'check_answer']

def check_text(
    x,                   # the field's value
    path:str,            # its path in the record, e.g. `messages[1].content`
    errs:list,           # defects found so far; appended to
    required:bool=True,  # a missing or blank optional field is not a defect
)->str|None:             # the text, or None when it is unusable
    "Check one text field: missing, not a string, or blank."
    if x is None:
        if required: errs.append((path, 'missing', 'required field is missing'))
        return None
    if not isinstance(x, str):
        errs.append((path, 'type', f'content must be a string, got {type(x).__name__}')); return None
    if not x.strip():
        if required: errs.append((path, 'empty', 'content is empty or whitespace only'))
        return None
    return x

def check_order(
    roles:list,          # canonical roles in order
    key:str,             # the list's field name, e.g. `messages`
    role_key:str,        # the role's field name in the raw turns, e.g. `role` or `from`
    errs:list,           # defects found so far; appended to
    last:str='assistant',# the role the list must end with
):
    "Turn order: an optional system turn first, then user and assistant alternating, ending with `last`."
    start = 1 if roles and roles[0] == 'system' else 0
    for i, r in enumerate(roles):
        want = 'system' if i < start else ('user' if (i-start) % 2 == 0 else 'assistant')
        if r != want:
            prev = repr(roles[i-1]) if i else 'the start'
            errs.append((f'{key}[{i}].{role_key}', 'order', f"expected {want!r} after {prev}, got {r!r}")); return
    if len(roles) <= start: errs.append((key, 'order', 'no user turn')); return
    if roles[-1] != last:
        errs.append((f'{key}[{len(roles)-1}].{role_key}', 'order', f"last turn must be {last!r}, got {roles[-1]!r}"))

def check_turns(
    turns,               # the raw list of turns
    key:str,             # its field name, e.g. `conversations`
    role_key:str,        # role field of a turn (`role` or `from`)
    text_key:str,        # text field of a turn (`content` or `value`)
    role_map:dict,       # raw role name -> canonical role
    errs:list,           # defects found so far; appended to
    last:str='assistant',# the role the list must end with
)->list:                 # canonical `{'role', 'content'}` messages (only trustworthy when no defect was added)
    "Check a list of turns (each turn's role and text, then their order) and return them as canonical messages."
    if turns is None: errs.append((key, 'missing', 'required field is missing')); return []
    if not isinstance(turns, list): errs.append((key, 'type', f'must be a list of turns, got {type(turns).__name__}')); return []
    if not turns: errs.append((key, 'empty', 'has no turns')); return []
    msgs, n0 = [], len(errs)
    for i, t in enumerate(turns):
        p = f'{key}[{i}]'
        if not isinstance(t, dict): errs.append((p, 'type', f'a turn must be a dict, got {type(t).__name__}')); continue
        r = t.get(role_key)
        if r is None: errs.append((f'{p}.{role_key}', 'missing', 'turn has no role'))
        elif not isinstance(r, str) or r not in role_map:
            errs.append((f'{p}.{role_key}', 'role', f'unknown role {r!r}; expected one of {sorted(role_map)}'))
        msgs.append({'role': role_map.get(r) if isinstance(r, str) else None,
                     'content': check_text(t.get(text_key), f'{p}.{text_key}', errs)})
    if len(errs) == n0: check_order([m['role'] for m in msgs], key, role_key, errs, last)
    return msgs

def check_answer(
    a,          # a preference answer: a string or `[{'role': 'assistant', 'content': ...}]`
    key:str,    # its field name, `chosen` or `rejected`
    errs:list,  # defects found so far; appended to
)->str|None:    # the answer's text, or None when it is unusable
    "Check one preference answer, in either of TRL's two forms."
    if isinstance(a, list):
        if len(a) != 1 or not isinstance(a[0], dict):
            errs.append((key, 'type', 'must be a string or a list with one assistant message')); return None
        r = a[0].get('role')
        if r != 'assistant': errs.append((f'{key}[0].role', 'role' if r is not None else 'missing', f"expected 'assistant', got {r!r}"))
        return check_text(a[0].get('content'), f'{key}[0].content', errs)
    return check_text(a, key, errs)
