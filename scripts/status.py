#!/usr/bin/env python3
"""双击运行：查看本轮各单位报送情况（ducha status）。

命令行用法：python scripts/status.py [工作区文件夹] [-r 轮次]
不给工作区时，使用脚本所在（或上一级）含 master.xlsx 的文件夹，找不到就询问。
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # also works without installing

from toolkit.clerk import run_script  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_script("status", sys.argv[1:], __file__))
