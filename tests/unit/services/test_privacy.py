"""Personal data is masked wherever it is shown for reading."""

import pytest

from app.services.privacy import mask_id_number, mask_phone, mask_value


def test_id_number_keeps_first_and_last_four():
    """An 18-character ID number becomes 1404**********1234."""
    assert mask_id_number("140402199001011234") == "1404**********1234"


def test_phone_keeps_first_three_and_last_four():
    """A mobile number becomes 138****1234."""
    assert mask_phone("13812341234") == "138****1234"


@pytest.mark.parametrize(("key", "value", "shown"), [
    ("mother_id_number", "14040219900101567X", "1404**********567X"),
    ("note", "140402199001015678", "1404**********5678"),  # an ID number under any key
    ("contact_phone", "13911111111", "139****1111"),
    ("bank_card_number", "6222020000000000000", "***************0000"),
    ("newborn_name", "王小宝", "王小宝"),
    ("card_type", "身份证", "身份证"),
])
def test_values_are_masked_by_key_and_shape(key, value, shown):
    """ID numbers, phone numbers and bank card numbers in case data are masked; other text is not."""
    assert mask_value(key, value) == shown


def test_mask_data_masks_at_any_depth_except_the_editable_fields():
    from app.services.privacy import mask_data

    data = {"father_id_number": "140402199001011234", "contact_phone": "13812341234",
            "members": [{"id_number": "140402199001011234", "name": "王小明"}],
            "bank": {"card_number": "6222021234567890123"}, "note": "140402199001011234", "count": 3}
    assert mask_data(data) == {
        "father_id_number": "1404**********1234", "contact_phone": "138****1234",
        "members": [{"id_number": "1404**********1234", "name": "王小明"}],
        "bank": {"card_number": "***************0123"}, "note": "1404**********1234", "count": 3}
    shown = mask_data(data, editable={"contact_phone", "members"})
    assert shown["contact_phone"] == "13812341234" and shown["members"] == data["members"]
    assert shown["father_id_number"] == "1404**********1234"
    assert data["father_id_number"] == "140402199001011234"  # a copy: the data itself is untouched
    assert mask_data(None) is None and mask_data([1]) == [1]


def test_a_masked_echo_counts_as_unchanged():
    from app.services.privacy import unchanged

    assert unchanged("father_id_number", "1404**********1234", "140402199001011234")
    assert unchanged("father_id_number", "140402199001011234", "140402199001011234")
    assert not unchanged("father_id_number", "1404**********9999", "140402199001011234")
    assert not unchanged("decision", "1404**********1234", "140402199001011234x")


@pytest.mark.parametrize(("text", "shown"), [
    ("请回电13812341234，谢谢", "请回电138****1234，谢谢"),
    ("电话 138-1234-5678。", "电话 138-****-5678。"),
    ("+86 138 1234 5678", "+86 138 **** 5678"),
    ("身份证140402199001011234，手机13912345678", "身份证1404**********1234，手机139****5678"),
    ("退款到6222021234567890123", "退款到***************0123"),
    ("身份证号14040219900101567x", "身份证号1404**********567x"),
])
def test_numbers_written_inside_free_text_are_masked(text, shown):
    """A complaint or an opinion often carries a number to call back: masked where it stands."""
    from app.services.privacy import mask_in_text

    assert mask_in_text(text) == shown
    assert mask_value("note", text) == shown


@pytest.mark.parametrize("text", [
    "12345热线转来", "办公室电话0355-2021234", "受理号CZ20261127000001", "2026年11月27日", "订单20261127000123",
    "编号ABC13812341234", "138123412345", "共计1381234123元", "", "无",
])
def test_other_numbers_in_text_are_left_alone(text):
    """Hotline and office numbers, receipt numbers, dates and longer or shorter runs stay as written."""
    from app.services.privacy import mask_in_text

    assert mask_in_text(text) == text


def test_a_masked_free_text_echo_counts_as_unchanged():
    """A read-only note shown masked and sent back unchanged is accepted as unchanged."""
    from app.services.privacy import unchanged

    stored = "联系人王女士13812341234"
    assert unchanged("note", "联系人王女士138****1234", stored)
    assert not unchanged("note", "联系人王女士138****9999", stored)
