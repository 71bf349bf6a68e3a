"""Reply texts for the quality check's tests."""

from __future__ import annotations

# a reply the quality check flags, and one it passes (tests/hotline/handling/test_reply_*.py)
WEAK = "已处理"
GOOD = (
    "经金融街街道核实，楼里停水属实，原因是小区供水管爆裂。"
    "市水务局已于11月18日上午抢修完毕，楼里已经有水，一整天没有水的情况不会再出现。"
)
