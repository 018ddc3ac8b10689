"Fault injection for llmbook.data: every defect is reported with row and field, and nothing is lost silently."
import copy, random
import pytest
from llmbook.data import (validate, validate_dataset, convert, DataError, Defect, dedup, normalize_zhtw,
                          to_zhtw, pack_bfd, padding_waste, block_causal_mask, position_ids_for)

ALPACA = {'instruction': '把數字寫成國字。', 'input': '305', 'output': '三百零五'}
SHAREGPT = {'conversations': [{'from': 'human', 'value': '嗨'}, {'from': 'gpt', 'value': '你好'}]}
OPENAI = {'messages': [{'role': 'system', 'content': '說臺灣華語。'}, {'role': 'user', 'content': '1+1'},
                       {'role': 'assistant', 'content': '2'}]}
PREF = {'prompt': '推薦一本書。', 'chosen': '《小王子》，短而耐讀。', 'rejected': '隨便。'}
GOOD = [ALPACA, SHAREGPT, OPENAI, PREF]

# (record, field, kind): one planted defect each
CASES = [
    ({'instruction': '翻譯'}, 'output', 'missing'),
    ({**ALPACA, 'output': None}, 'output', 'missing'),
    ({**ALPACA, 'instruction': ' \n'}, 'instruction', 'empty'),
    ({**ALPACA, 'output': 305}, 'output', 'type'),
    ({**ALPACA, 'input': ['305']}, 'input', 'type'),
    ({'conversations': []}, 'conversations', 'empty'),
    ({'conversations': 'hi'}, 'conversations', 'type'),
    ({'conversations': [{'from': 'human', 'value': '嗨'}, {'from': 'robot', 'value': '你好'}]}, 'conversations[1].from', 'role'),
    ({'conversations': [{'from': 'human', 'value': '嗨'}, {'value': '你好'}]}, 'conversations[1].from', 'missing'),
    ({'conversations': [{'from': 'human', 'value': '嗨'}, {'from': 'gpt', 'value': ''}]}, 'conversations[1].value', 'empty'),
    ({'conversations': [{'from': 'human', 'value': '嗨'}, {'from': 'gpt', 'value': {'t': 1}}]}, 'conversations[1].value', 'type'),
    ({'conversations': [{'from': 'human', 'value': '嗨'}, 'gpt: 你好']}, 'conversations[1]', 'type'),
    ({'messages': [{'role': 'assistant', 'content': '嗨'}]}, 'messages[0].role', 'order'),
    ({'messages': [{'role': 'user', 'content': '一'}, {'role': 'user', 'content': '二'}]}, 'messages[1].role', 'order'),
    ({'messages': [{'role': 'user', 'content': '一'}, {'role': 'assistant', 'content': '二'},
                   {'role': 'user', 'content': '三'}]}, 'messages[2].role', 'order'),
    ({'messages': [{'role': 'user', 'content': '一'}, {'role': 'assistant', 'content': '二'},
                   {'role': 'system', 'content': '三'}]}, 'messages[2].role', 'order'),
    ({'messages': [{'role': 'system', 'content': '規則'}]}, 'messages', 'order'),
    ({'messages': [{'role': 'user', 'content': '嗨'}, {'role': 'tool', 'content': '{}'}]}, 'messages[1].role', 'role'),
    ({'messages': [{'role': 'user', 'content': [{'type': 'text', 'text': '嗨'}]},
                   {'role': 'assistant', 'content': '你好'}]}, 'messages[0].content', 'type'),
    ({**PREF, 'chosen': None, 'rejected': '不'}, 'chosen', 'missing'),
    ({**PREF, 'rejected': PREF['chosen']}, 'rejected', 'identical'),
    ({**PREF, 'prompt': ''}, 'prompt', 'empty'),
    ({**PREF, 'chosen': [{'role': 'user', 'content': '好'}]}, 'chosen[0].role', 'role'),
    ({**PREF, 'chosen': [{'role': 'assistant', 'content': 'a'}, {'role': 'assistant', 'content': 'b'}]}, 'chosen', 'type'),
    ({**PREF, 'prompt': [{'role': 'user', 'content': '問'}, {'role': 'assistant', 'content': '答'}]}, 'prompt[1].role', 'order'),
    ({'text': '純文字'}, '(record)', 'format'),
    ('不是字典', '(record)', 'type'),
]

def test_good_records_pass():
    rep = validate(GOOD)
    assert (rep.n_in, rep.n_kept, rep.n_dropped, rep.defects) == (4, 4, 0, [])
    assert rep.kept[0]['messages'][-1] == {'role': 'assistant', 'content': '三百零五'}
    assert rep.kept[3]['prompt'] == [{'role': 'user', 'content': '推薦一本書。'}]

@pytest.mark.parametrize('rec,field,kind', CASES, ids=[f'{k}:{f}' for _, f, k in CASES])
def test_each_defect_named_with_row_and_field(rec, field, kind):
    recs = GOOD + [rec] + GOOD
    rep = validate(recs, mode='drop')
    assert [(d.row, d.field, d.kind) for d in rep.defects][:1] == [(4, field, kind)]
    assert rep.dropped_rows == [4] and rep.kept_rows == [0, 1, 2, 3, 5, 6, 7, 8]
    with pytest.raises(DataError) as e: validate(recs)
    assert f'row 4, field {field}: {kind}' in str(e.value)

def test_raise_lists_all_defects_at_once():
    bad = [c[0] for c in CASES]
    with pytest.raises(DataError) as e: validate(bad)
    msg = str(e.value)
    assert f'in {len(bad)} row(s)' in msg
    assert {d.row for d in e.value.defects} == set(range(len(bad)))

def test_input_is_not_mutated():
    recs = copy.deepcopy(GOOD + [c[0] for c in CASES])
    before = copy.deepcopy(recs)
    validate(recs, mode='drop'); normalize_zhtw(validate(GOOD).kept)
    assert recs == before

def test_bad_mode():
    with pytest.raises(ValueError, match='mode'): validate(GOOD, mode='skip')

def _corrupt(rec, rng):
    "One random corruption of a valid record; returns (record, corrupted?)"
    rec = copy.deepcopy(rec)
    turns = rec.get('messages') or rec.get('conversations')
    op = rng.choice(['none', 'drop_key', 'empty', 'type', 'role', 'swap'])
    if op == 'none': return rec, False
    if turns is None:  # alpaca / preference: flat string fields
        key = rng.choice([k for k in rec if k != 'input'])
        if op == 'drop_key': del rec[key]
        elif op == 'empty': rec[key] = '  '
        elif op == 'type': rec[key] = rng.choice([1, 2.5, {'x': 1}, True])
        elif op == 'role': rec[key] = None
        else: rec['rejected' if 'rejected' in rec else 'output'] = rec.get('chosen', 42)
        return rec, True
    t = rng.randrange(len(turns)); rk, ck = ('role', 'content') if 'role' in turns[0] else ('from', 'value')
    if op == 'drop_key': del turns[t][rng.choice([rk, ck])]
    elif op == 'empty': turns[t][ck] = ''
    elif op == 'type': turns[t][ck] = rng.choice([1, None, ['x'], {'x': 1}])
    elif op == 'role': turns[t][rk] = 'narrator'
    else:
        if len(turns) < 2: turns.append(copy.deepcopy(turns[-1]))
        else: turns[-1], turns[-2] = turns[-2], turns[-1]
    return rec, True

def test_random_corruptions_lose_nothing():
    rng = random.Random(0)
    for trial in range(200):
        recs, corrupted = [], []
        for _ in range(rng.randint(1, 30)):
            r, c = _corrupt(rng.choice(GOOD), rng); recs.append(r); corrupted.append(c)
        rep = validate(recs, mode='drop')
        assert rep.n_in == len(recs) == rep.n_kept + rep.n_dropped
        assert set(rep.kept_rows).isdisjoint(rep.dropped_rows)
        assert sorted(rep.kept_rows + rep.dropped_rows) == list(range(len(recs)))
        assert all(d.field and d.kind and d.message for d in rep.defects)
        # every corrupted record is caught (none of our corruptions leaves a record valid), every clean one kept
        assert [i for i, c in enumerate(corrupted) if c] == rep.dropped_rows, trial

def test_dataset_map_path_matches_list_path():
    from datasets import Dataset
    recs = [SHAREGPT] * 5 + [c[0] for c in CASES if 'conversations' in c[0] and isinstance(c[0]['conversations'], list)
                              and all(isinstance(t, dict) for t in c[0]['conversations'])
                              and all(isinstance(t.get('value'), (str, type(None))) for t in c[0]['conversations'])]
    ds = Dataset.from_list(recs)
    kept, defects = validate_dataset(ds, mode='drop', batch_size=3)
    rep = validate(ds.to_list(), fmt='sharegpt', mode='drop')
    assert len(kept) == rep.n_kept and [tuple(d) for d in defects] == [tuple(d) for d in rep.defects]
    assert kept.to_list() == rep.kept
    with pytest.raises(DataError, match='row 5'): validate_dataset(ds)

def test_zhtw_counts():
    out, n = to_zhtw('软件内存')
    assert (out, n) == ('軟體記憶體', 5)   # 2 replaced + 2 replaced + 1 inserted
    recs, st = normalize_zhtw([{'messages': [{'role': 'user', 'content': '网络'}, {'role': 'assistant', 'content': '好'}]}])
    assert st == {'records': 1, 'changed_records': 1, 'changed_chars': 2} and recs[0]['messages'][0]['content'] == '網路'

def test_dedup_conservation_and_counts():
    base = ['今天颱風天，公司停班停課，大家記得待在家裡注意安全並準備好手電筒與飲用水。',
            '夜市的鹽酥雞要趁熱吃，加一點九層塔和胡椒粉最對味，再配一杯珍珠奶茶就完美了。',
            '學習程式設計最好的方法，就是每天動手寫一點小專案，遇到錯誤時仔細閱讀錯誤訊息。']
    texts = base + [base[0], base[1].replace('，', ','), base[2].replace('每天', '每日')]
    kept, rep = dedup(texts)
    assert (rep['exact'], rep['near'], rep['n_kept']) == (2, 1, 3) and kept == base
    assert rep['n_in'] == rep['n_kept'] + rep['exact'] + rep['near']

def test_packing_helpers():
    assert padding_waste([5, 5], 2) == 0 and padding_waste([1, 3], 2) == 2 / 6
    rows = pack_bfd([9, 3, 7, 2, 5], 10)
    assert sorted(sorted(r) for r in rows) == [[0], [1, 2], [3, 4]]
    m = block_causal_mask(__import__('torch').tensor(position_ids_for([2, 2])))
    assert m.int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 1, 1]]

def test_norm_text_keeps_what_changes_meaning():
    from llmbook.data import norm_text, exact_dups
    assert norm_text('計算 1+23') != norm_text('計算 12+3')          # an operator's place
    assert norm_text('計算 1 23') != norm_text('計算 12 3')          # how digits group
    assert norm_text('1.5 公尺') != norm_text('15 公尺') and norm_text('-3 度') != norm_text('3 度')
    assert norm_text('(1+2)*3') != norm_text('1+2*3')
    sums = ['計算 1+234', '計算 12+34', '計算 123+4', '計算 1 234', '計算 12 34', '計算 1234']
    assert exact_dups(sums) == [None] * len(sums)
    kept, rep = dedup([{'messages': [{'role': 'user', 'content': s}, {'role': 'assistant', 'content': '好'}]} for s in sums])
    assert rep['exact'] == 0 and len(kept) + rep['near'] == len(sums)

def test_norm_text_still_collapses_real_duplicates():
    from llmbook.data import norm_text, exact_dups
    one = ['計算 12+3', '計算　１２＋３。', ' 計算12 + 3 ', '計算12+3！']            # full/half width, spacing, punctuation
    assert len({norm_text(s) for s in one}) == 1
    assert norm_text('Ｈｅｌｌｏ，  World！') == norm_text('hello world') == 'hello world'
    assert norm_text('今天 天氣　很好。') == norm_text('今天天氣很好')
    assert norm_text('1，000 元') == norm_text('1,000元')
    # Simplified and Traditional forms of one sentence: the pipeline converts (normalize_zhtw) before dedup
    recs = [{'messages': [{'role': 'user', 'content': t}, {'role': 'assistant', 'content': '好'}]}
            for t in ('这个软件的内存占用太高。', '這個軟體的記憶體佔用太高')]
    assert exact_dups([str(r) for r in recs])[1] is None
    normed, _ = normalize_zhtw(recs)
    kept, rep = dedup(normed)
    assert rep['exact'] == 1 and len(kept) == 1

@pytest.mark.parametrize('n,frac,seed', [(7, .15, 0), (13, .15, 0), (60, .2, 0), (99, .1, 3), (250, .33, 7)])
def test_train_val_split_is_datasets_split(n, frac, seed):
    "Same rows, same order as `Dataset.train_test_split`; disjoint and complete."
    from datasets import Dataset
    from llmbook.data import train_val_split
    recs = [{'i': i} for i in range(n)]
    tr, va = train_val_split(recs, frac, seed=seed)
    sp = Dataset.from_list(recs).train_test_split(test_size=frac, seed=seed)
    assert (tr, va) == (sp['train'].to_list(), sp['test'].to_list())
    assert sorted(r['i'] for r in tr + va) == list(range(n))
    assert train_val_split(recs, frac, seed=seed) == (tr, va) and train_val_split(recs, frac, seed=seed + 1) != (tr, va)
