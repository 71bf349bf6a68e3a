"""Fill empty zh-hans msgstr entries from a glossary (kept so new strings get consistent terms).

Usage: python tools/translate_zh.py  — then `make messages`. Strings missing from the glossary are
listed so a translator can add them to the .po file by hand.
"""

from __future__ import annotations

from pathlib import Path

import polib

GLOSSARY = {
    "The city": "城市",
    "City": "市",
    "District": "区",
    "Street": "街乡",
    "Community": "社区",
    "name": "名称",
    "English name": "英文名称",
    "code": "编码",
    "level": "层级",
    "Direct to the department (直派)": "直派部门",
    "To the street of the location": "派至属地街乡",
    "Home": "首页",
    "Audit trail": "审计记录",
    "Administration": "系统管理",
    "Log in": "登录",
    "Username": "用户名",
    "Password": "密码",
    "The hash chain is intact (%(n)s record checked).": "哈希链完整（已核验 %(n)s 条记录）。",
    "The hash chain is broken at": "哈希链断裂于",
    "When": "时间",
    "Who": "操作人",
    "Action": "操作",
    "Object": "对象",
    "Summary": "摘要",
    "Districts": "区",
    "Streets": "街乡",
    "Departments": "部门",
    "Categories": "分类",
    "No city has been imported yet: run `cityloop city import beijing`.": "尚未导入城市：请运行 `cityloop city import beijing`。",
    "CityLoop": "城市闭环",
    "Skip to content": "跳到正文",
    "Main": "主导航",
    "Language": "语言",
    "Switch": "切换",
    "Log out": "退出",
    "CityLoop — one loop for the hotline, government services and the city brain.": "城市闭环——接诉即办、一网通办与城市大脑，一个闭环。",
    "City pack": "城市数据包",
    "Pack": "数据包",
    "Calendar": "工作日历",
    "Time zone": "时区",
    "Accounts": "账号",
    "%(n)s active API token": "%(n)s 个有效 API 令牌",
    "Open the administration site": "打开管理后台",
    "Audit": "审计",
    "Full audit trail": "全部审计记录",
    "My requests": "我的诉求",
    "Welcome, %(name)s": "%(name)s，您好",
    "Here you file requests to the city and follow them until they are resolved.": "在这里向城市反映诉求，并跟踪办理直到解决。",
    "Department desk": "部门工作台",
    "Matters this department answers for": "本部门负责的事项",
    "No categories are assigned to this department.": "本部门尚未分配事项分类。",
    "Dispatch desk": "派单工作台",
    "Responsibility list": "职责清单",
    "Category": "分类",
    "Responsible department": "责任部门",
    "Route": "派单方式",
    "No responsibilities are defined for the first-level categories.": "一级分类尚未设置职责。",
    "City overview": "全市概览",
    "Code": "编码",
    "Welcome": "欢迎",
    "One door for every request to the city: tell us what happened and where, and follow your request until it is resolved.": "一个入口受理所有诉求：告诉我们发生了什么、在哪里，并跟踪办理直到解决。",
    "Street desk": "街乡工作台",
    "Communities": "社区",
    "The city pack lists no communities for this street.": "城市数据包中该街乡没有社区。",
    "Accounts and audit": "账号与审计",
    "Citizen": "市民",
    "Hotline operator": "话务调度员",
    "Street official": "街乡工作人员",
    "Department staff": "部门工作人员",
    "Leader": "领导",
    "Administrator": "管理员",
    "Auditor": "审计员",
    "role": "角色",
    "full name": "姓名",
    "phone": "电话",
    "street": "街乡",
    "department": "部门",
    "user": "用户",
    "users": "用户",
    "scopes": "权限范围",
}

ROOT = Path(__file__).resolve().parent.parent / "src" / "cityloop"


def main() -> None:
    missing = set()
    for path in sorted(ROOT.glob("*/locale/zh_Hans/LC_MESSAGES/django.po")):
        po = polib.pofile(str(path))
        for entry in po:
            if entry.msgid_plural:
                if not entry.msgstr_plural.get(0):
                    text = GLOSSARY.get(entry.msgid)
                    if text:
                        entry.msgstr_plural = {0: text}
                    else:
                        missing.add(entry.msgid)
            elif not entry.msgstr:
                if entry.msgid in GLOSSARY:
                    entry.msgstr = GLOSSARY[entry.msgid]
                else:
                    missing.add(entry.msgid)
            if "fuzzy" in entry.flags:
                entry.flags.remove("fuzzy")
        po.metadata["Plural-Forms"] = "nplurals=1; plural=0;"
        po.metadata["Language"] = "zh_Hans"
        po.metadata["Content-Type"] = "text/plain; charset=UTF-8"
        po.save()
    for msgid in sorted(missing):
        print("untranslated:", msgid)


if __name__ == "__main__":
    main()
