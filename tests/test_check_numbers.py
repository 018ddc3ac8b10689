"tools/check_numbers.py: measured-looking numbers in prose must appear in the notebook's stored outputs."
import importlib.util, json
from pathlib import Path
import pytest

_spec = importlib.util.spec_from_file_location('check_numbers', Path(__file__).parents[1]/'tools'/'check_numbers.py')
cn = importlib.util.module_from_spec(_spec); _spec.loader.exec_module(cn)

def _nb(tmp_path, md, out):
    nb = dict(cells=[dict(cell_type='code', source='x', outputs=[dict(output_type='stream', name='stdout', text=out)]),
                     dict(cell_type='markdown', source=md)], metadata={}, nbformat=4, nbformat_minor=5)
    p = tmp_path/'x.ipynb'; p.write_text(json.dumps(nb)); return p

@pytest.mark.parametrize('md,out', [
    ('準確率 0.95。', 'acc 0.9466\n'),               # rounded from a more precise output
    ('準確率 95 %。', 'acc 0.9466\n'),               # a percentage printed as a fraction
    ('轉接器 81 MB。', 'adapter 80.9 MB\n'),          # same unit, rounded
    ('共 1,617 個詞元。', 'graded 1617\n'),           # thousands separator
    ('`lr=2e-4`、$\\alpha=0.5$', ''),                # code and math are exempt
    ('Qwen2.5-7B 與 Python 3.10、torch 2.13.0，2026-11-30，arXiv 2106.09685', ''),  # names, versions, dates, ids
    ('別人量到 3.5 GB（[來源](https://example.org)）', ''),   # published figure next to its source
])
def test_supported_or_exempt(tmp_path, md, out):
    assert cn.check(_nb(tmp_path, md, out)) == []

@pytest.mark.parametrize('md,out', [
    ('準確率 0.95。', 'acc 0.93\n'),                 # a different number
    ('準確率 0.95。', 'acc 0.9\n'),                  # a less precise output cannot support a more precise claim
    ('轉接器 81 MB。', 'rank 81\n'),                  # the number without its unit
    ('只要 14 %。', 'steps 14\n'),                    # an integer is not a percentage
    ('花了 600 s。', ''),                             # durations count
    ('0.94× 的速度', 'ratio 0.91\n'),                # ratios count
])
def test_unsupported_is_flagged(tmp_path, md, out):
    assert len(cn.check(_nb(tmp_path, md, out))) == 1
