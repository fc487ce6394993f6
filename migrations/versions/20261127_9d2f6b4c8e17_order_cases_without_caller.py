"""The case of a 12345 work order no longer names the caller

Revision ID: 9d2f6b4c8e17
Revises: 6f4b2d8e1a93
Create Date: 2026-11-27 12:20:00.000000

A work order's caller was also stored as its case's applicant, so every unit the order reached
saw the caller's name (and could reveal the phone) through the case, while the order itself
withholds the caller from units. The caller stays on ``work_orders`` (caller_name, caller_phone);
the cases of existing orders get the same neutral applicant as new ones. Downgrade restores the
applicant from the order.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '9d2f6b4c8e17'
down_revision = '6f4b2d8e1a93'
branch_labels = None
depends_on = None


def upgrade():
    op.execute(
        "UPDATE cases SET applicant_name = CASE WHEN (SELECT w.confidential FROM work_orders w "
        "WHERE w.case_id = cases.id) THEN '保密来电人' ELSE '12345来电人' END, "
        "applicant_phone = NULL, applicant_id_number = '' "
        "WHERE process_key = 'hotline_work_order' AND EXISTS (SELECT 1 FROM work_orders w WHERE w.case_id = cases.id)")


def downgrade():
    op.execute(
        "UPDATE cases SET applicant_name = (SELECT CASE WHEN w.confidential THEN '保密来电人' ELSE w.caller_name END "
        "FROM work_orders w WHERE w.case_id = cases.id), "
        "applicant_phone = (SELECT CASE WHEN w.confidential THEN NULL ELSE w.caller_phone END "
        "FROM work_orders w WHERE w.case_id = cases.id) "
        "WHERE process_key = 'hotline_work_order' AND EXISTS (SELECT 1 FROM work_orders w WHERE w.case_id = cases.id)")
