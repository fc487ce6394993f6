"""The demo organisation of a city approval bureau (idempotent seed)."""

from __future__ import annotations

from sqlalchemy import select

from ..extensions import db
from ..models import Department, Group, User

DEMO_PASSWORD = "changzhi2025"

# (department code, department name, group code, group display name)
DEPARTMENTS = [
    ("window", "政务服务中心综合窗口", "window", "综合窗口"),
    ("health", "市卫生健康委员会", "health", "卫生健康"),
    ("public_security", "市公安局", "public_security", "公安"),
    ("medical_insurance", "市医疗保障局", "medical_insurance", "医疗保障"),
    ("hr_social_security", "市人力资源和社会保障局", "hr_social_security", "人力资源和社会保障"),
    ("market_regulation", "市市场监督管理局", "market_regulation", "市场监管"),
    ("tax", "国家税务总局长治市税务局", "tax", "税务"),
    ("housing_fund", "市住房公积金管理中心", "housing_fund", "住房公积金"),
    ("fire_rescue", "市消防救援支队", "fire_rescue", "消防救援"),
    ("urban_management", "市城市管理局", "urban_management", "城市管理"),
    ("natural_resources", "市自然资源和规划局", "natural_resources", "自然资源"),
    ("civil_affairs", "市民政局", "civil_affairs", "民政"),
    ("utilities", "水电气网公共服务企业", "utilities", "水电气网"),
    ("tobacco", "市烟草专卖局", "tobacco", "烟草专卖"),
    ("customs", "长治海关", "customs", "海关"),
    ("hotline_centre", "12345政务服务便民热线中心", "hotline", "12345话务"),
    ("hotline_centre", "12345政务服务便民热线中心", "dispatch", "12345派单"),
    ("hotline_centre", "12345政务服务便民热线中心", "callback", "12345回访"),
    ("legal_affairs", "市行政审批服务管理局法制科", "legal_affairs", "法制审核"),
    ("supervision", "市行政审批服务管理局督查科", "supervision", "督查"),
    ("bureau_leaders", "市行政审批服务管理局", "leaders", "局领导"),
    ("legal_adviser", "市行政审批服务管理局法律顾问", "legal_adviser", "法律顾问"),
    ("business_environment", "市优化营商环境办公室", "business_environment", "营商环境"),
]

# (username, display name, roles, group codes)
USERS = [
    ("admin", "系统管理员", ["admin"], []),
    ("designer", "流程设计员", ["designer"], []),
    ("window1", "综窗受理员一", ["clerk"], ["window"]),
    ("window2", "综窗受理员二", ["clerk"], ["window"]),
    ("chief1", "综窗科长", ["clerk", "section_chief"], ["window"]),
    ("health1", "卫健审查员", ["reviewer"], ["health"]),
    ("health2", "卫健审查员二", ["reviewer"], ["health"]),
    ("healthchief", "卫健科长", ["reviewer", "section_chief"], ["health"]),
    ("police1", "公安审查员", ["reviewer"], ["public_security"]),
    ("medins1", "医保审查员", ["reviewer"], ["medical_insurance"]),
    ("hrss1", "人社审查员", ["reviewer"], ["hr_social_security"]),
    ("market1", "市场监管审查员", ["reviewer"], ["market_regulation"]),
    ("tax1", "税务审查员", ["reviewer"], ["tax"]),
    ("fund1", "公积金审查员", ["reviewer"], ["housing_fund"]),
    ("supervisor", "督查员", ["supervisor"], ["supervision"]),
    ("leader1", "局领导", ["leader"], ["leaders"]),
    ("fire_rescue1", "消防审查员", ["reviewer"], ["fire_rescue"]),
    ("urban_management1", "城管审查员", ["reviewer"], ["urban_management"]),
    ("natural_resources1", "不动产登记员", ["reviewer"], ["natural_resources"]),
    ("civil_affairs1", "民政审查员", ["reviewer"], ["civil_affairs"]),
    ("utilities1", "水电气网联络员", ["reviewer"], ["utilities"]),
    ("tobacco1", "烟草专卖审查员", ["reviewer"], ["tobacco"]),
    ("customs1", "海关审查员", ["reviewer"], ["customs"]),
    ("hotline1", "12345话务员", ["reviewer"], ["hotline"]),
    ("dispatch1", "12345派单员", ["reviewer"], ["dispatch"]),
    ("callback1", "12345回访员", ["reviewer"], ["callback"]),
    ("legal1", "法制审核员", ["reviewer"], ["legal_affairs"]),
    ("adviser1", "法律顾问", ["reviewer"], ["legal_adviser"]),
    ("bizenv1", "营商环境专员", ["reviewer"], ["business_environment"]),
    ("helper1", "帮办员", ["helper"], []),
]


def seed() -> int:
    """Create missing demo departments, groups and users; return how many were created."""
    created = 0
    groups = {}
    for dept_code, dept_name, group_code, group_name in DEPARTMENTS:
        dept = db.session.scalar(select(Department).where(Department.code == dept_code))
        if dept is None:
            dept = Department(code=dept_code, name=dept_name)
            db.session.add(dept)
            db.session.flush()
            created += 1
        group = db.session.scalar(select(Group).where(Group.code == group_code))
        if group is None:
            group = Group(code=group_code, name=group_name, department_id=dept.id)
            db.session.add(group)
            db.session.flush()
            created += 1
        groups[group_code] = group
    for username, display, roles, group_codes in USERS:
        if db.session.scalar(select(User).where(User.username == username)) is not None:
            continue
        user = User(username=username, display_name=display, roles=roles, active=True)
        user.set_password(DEMO_PASSWORD)
        user.groups = [groups[c] for c in group_codes]
        db.session.add(user)
        created += 1
    db.session.flush()
    return created


def system_user() -> User | None:
    """The account command-line deployments are recorded under (the admin, when seeded)."""
    return db.session.scalar(select(User).where(User.username == "admin"))
