#!/usr/bin/env python3
"""双击运行：生成本轮各单位的填报模板（ducha templates）。

命令行用法：python scripts/make_templates.py [工作区文件夹] [-r 轮次]
不给工作区时，使用脚本所在（或上一级）含 master.xlsx 的文件夹，找不到就询问。
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also works without installing

from toolkit.clerk import run_script  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_script("templates", sys.argv[1:], __file__))
