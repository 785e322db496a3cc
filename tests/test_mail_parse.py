"""Reading mail as departments' mailers write it: names, senders, dates, attachments, .msg."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import pytest
from mailbuild import (
    PDF,
    XLSX,
    b64_word,
    compound_file,
    foxmail_mail,
    multipart,
    outlook_mail,
    outlook_msg,
    part,
    raw_gbk_mail,
    rfc2231_mail,
    text_part,
    tiny_docx,
    tiny_xls,
    tiny_xlsx,
    zip_bytes,
)

from toolkit.mail.parse import (
    CHINA,
    MailAttachment,
    MailFileError,
    decode_header_text,
    is_spreadsheet,
    parse_mail_file,
    parse_message,
    spreadsheet_kind,
)

# 镕 and 喆 are in GBK but not in GB2312; 䶮 only in GB18030: mailers still label them gb2312
GBK_ONLY_NAME = "01_市发改委（镕喆）_2021-04.xlsx"
SENDER = "fgw@example.gov.cn"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_outlook_style_names_subject_sender_and_date():
    data = tiny_xlsx()
    raw = outlook_mail(sender="FGW@Example.gov.cn", sender_name="市发改委 王喆", subject="关于报送4月重点工作进展（䶮）",
                       attachments=[(GBK_ONLY_NAME, data)])
    mail = parse_message(raw)
    assert mail.sender == "fgw@example.gov.cn"
    assert mail.sender_name == "市发改委 王喆"
    assert mail.subject == "关于报送4月重点工作进展（䶮）"
    assert mail.message_id == "<000001d74301$1a2b3c40$4e5f6a70$@example.gov.cn>"
    assert mail.date == at("2021-05-07T10:32:15+08:00") and mail.date.utcoffset() == timedelta(hours=8)
    assert [a.name for a in mail.attachments] == [GBK_ONLY_NAME]
    assert mail.attachments[0].data == data
    assert mail.attachments[0].content_type == XLSX


def test_foxmail_style_octet_stream_is_recognised_by_content():
    raw = foxmail_mail(sender=SENDER, sender_name="发改委", subject="报表（喆）",
                       attachments=[("市发改委报表.xlsx", tiny_xlsx()), ("报送说明.pdf", PDF)])
    mail = parse_message(raw)
    assert mail.subject == "报表（喆）"
    assert [a.name for a in mail.attachments] == ["市发改委报表.xlsx", "报送说明.pdf"]
    assert all(a.content_type == "application/octet-stream" for a in mail.attachments)
    assert [is_spreadsheet(a) for a in mail.attachments] == [True, False]
    assert mail.date == at("2021-05-07T16:05:44+08:00")


@pytest.mark.parametrize("split", [True, False])
@pytest.mark.parametrize("charset", ["UTF-8", "gb2312"])
def test_rfc2231_names(split, charset):
    long_name = "01_三门峡市发展和改革委员会（镕）_2021-04_重点工作进展情况统计表_修改稿.xlsx"
    raw = rfc2231_mail(sender=SENDER, subject="报表", attachments=[(long_name, b"PK\x03\x04data")],
                       charset=charset, split=split)
    mail = parse_message(raw)
    assert [a.name for a in mail.attachments] == [long_name]


def test_raw_gbk_bytes_in_headers_are_recovered():
    raw = raw_gbk_mail(sender=SENDER, sender_name="市发改委办公室", subject="4月报表（镕）",
                       attachments=[("发改委报表.xls", tiny_xls())])
    assert "市发改委".encode("gbk") in raw  # really raw bytes, no encoded words
    mail = parse_message(raw)
    assert mail.subject == "4月报表（镕）"
    assert mail.sender_name == "市发改委办公室"
    assert mail.sender == SENDER
    assert [a.name for a in mail.attachments] == ["发改委报表.xls"]
    assert spreadsheet_kind(mail.attachments[0]) == "xls"


def test_raw_utf8_bytes_in_headers_are_recovered():
    raw = part([("From", "张三 <a@b.cn>".encode()), ("Subject", "报表（镕）".encode()),
                ("Content-Type", "text/plain; charset=utf-8")], "正文".encode())
    mail = parse_message(raw)
    assert (mail.subject, mail.sender_name, mail.sender) == ("报表（镕）", "张三", "a@b.cn")


def test_encoded_words_split_mid_character_are_joined():
    data = "市发改委报表".encode("gbk")
    first, second = data[:5], data[5:]  # cuts a two-byte character in half
    import base64
    value = f"=?gbk?B?{base64.b64encode(first).decode()}?=\r\n =?gbk?B?{base64.b64encode(second).decode()}?="
    assert decode_header_text(value) == "市发改委报表"
    q = "=?utf-8?Q?=E5=B8=82=E5?= =?utf-8?Q?=8F=91?= 报表"
    assert decode_header_text(q) == "市发 报表"
    assert decode_header_text("Re: =?gb2312?B?" + base64.b64encode("报表".encode("gbk")).decode() + "?= 已收") == "Re: 报表 已收"


def test_mislabelled_charsets_fall_back():
    """A GB label is trusted (GBK text can look like UTF-8: 联通); a wrong UTF-8 label is not."""
    import base64
    gbk_as_utf8 = "=?utf-8?B?" + base64.b64encode("报表".encode("gbk")).decode() + "?="
    assert decode_header_text(gbk_as_utf8) == "报表"


def test_date_falls_back_to_newest_received_then_china_time():
    received = ["from mx.example.gov.cn by imap.example.gov.cn; Sat, 8 May 2021 01:02:03 +0000",
                "from client by mx.example.gov.cn; Fri, 7 May 2021 23:00:00 +0800"]
    mail = parse_message(raw_gbk_mail(sender=SENDER, sender_name="甲", subject="乙", attachments=[], date=None,
                                      received=received))
    assert mail.date == at("2021-05-08T09:02:03+08:00")
    naive = parse_message(part([("Date", "Fri, 7 May 2021 10:00:00 -0000"), ("Subject", "x")], b"body"))
    assert naive.date == datetime(2021, 5, 7, 10, 0, tzinfo=CHINA)
    no_zone = parse_message(part([("Date", "7 May 2021 10:00:00"), ("Subject", "x")], b"body"))
    assert no_zone.date == datetime(2021, 5, 7, 10, 0, tzinfo=CHINA)
    nothing = parse_message(part([("Date", "昨天".encode()), ("Subject", "x")], b"body"))
    assert nothing.date is None


def test_nameless_attachments_are_named_from_type_or_content():
    xlsx = tiny_xlsx()
    raw = multipart([("From", "a@b.cn"), ("Subject", "x")], [
        text_part("见附件"),
        part([("Content-Type", XLSX), ("Content-Transfer-Encoding", "base64")], __import__("base64").b64encode(xlsx)),
        part([("Content-Type", "application/octet-stream"), ("Content-Transfer-Encoding", "base64")],
             __import__("base64").b64encode(xlsx)),
        part([("Content-Type", "application/pdf"), ("Content-Disposition", "attachment")], PDF),
        part([("Content-Type", "text/plain; charset=utf-8"), ("Content-Disposition", "attachment")], "说明".encode()),
    ])
    mail = parse_message(raw)
    assert [a.name for a in mail.attachments] == ["附件1.xlsx", "附件2.xlsx", "附件3.pdf", "附件4.txt"]
    assert [is_spreadsheet(a) for a in mail.attachments] == [True, True, False, False]


def test_paths_in_names_are_cut_to_the_file_name():
    word = b64_word("C:\\Users\\张三\\Desktop\\报表.xlsx")
    raw = multipart([("From", "a@b.cn")], [
        part([("Content-Type", f'{XLSX}; name="{word}"'), ("Content-Disposition", "attachment; filename=\"../../x.xlsx\"")],
             b"PK"),
        part([("Content-Type", f'{XLSX}; name="{word}"')], b"PK"),
    ])
    assert [a.name for a in parse_message(raw).attachments] == ["x.xlsx", "报表.xlsx"]


def test_forwarded_mail_attachments_and_their_origin():
    inner = outlook_mail(sender="kjj@example.gov.cn", sender_name="市科技局", subject="科技局报表",
                         attachments=[("科技局报表.xlsx", tiny_xlsx("科技"))], date="Thu, 6 May 2021 17:00:00 +0800")
    raw = multipart([("From", "Clerk <clerk@example.gov.cn>"), ("Subject", b64_word("转发：科技局报表")),
                     ("Date", "Fri, 7 May 2021 09:00:00 +0800")], [
        text_part("转给你"),
        part([("Content-Type", "message/rfc822"), ("Content-Disposition", "attachment; filename=\"fw.eml\"")], inner),
        part([("Content-Type", f'{XLSX}; name="own.xlsx"')], b"PK\x03\x04"),
    ], boundary="outer-boundary")
    mail = parse_message(raw)
    assert mail.subject == "转发：科技局报表"
    assert [a.name for a in mail.attachments] == ["科技局报表.xlsx", "own.xlsx"]
    assert len(mail.attached) == 1 and mail.attached[0].sender == "kjj@example.gov.cn"
    origin = mail.origin_of(mail.attachments[0])
    assert origin.sender == "kjj@example.gov.cn" and origin.date == at("2021-05-06T17:00:00+08:00")
    assert mail.origin_of(mail.attachments[1]) is mail


def test_spreadsheet_sniffing_zip_ods_docx_and_names():
    zipped = zip_bytes([("01_市科技局_2021-04.xlsx", tiny_xlsx()), ("说明.txt", b"x")])
    ods = zip_bytes([("mimetype", b"application/vnd.oasis.opendocument.spreadsheet"), ("content.xml", b"<x/>")],
                    gbk_names=False)
    cases = {
        "a.zip": (zipped, "zip", True),
        "a.ods": (ods, "ods", True),
        "a.docx": (tiny_docx(), None, False),
        "a.pdf": (PDF, None, False),
        "导出.xls": (b"<html><table><tr><td>1</td></tr></table></html>", None, True),  # the merge explains it
        "文件.xlsx": (b"", None, False),
        "stream.bin": (tiny_xls(), "xls", True),
    }
    for name, (data, kind, sheet) in cases.items():
        att = MailAttachment(name, data, "application/octet-stream")
        assert spreadsheet_kind(att) == kind, name
        assert is_spreadsheet(att) is sheet, name


def test_names_readable_both_ways_match_stdlib_for_standard_forms():
    """Where the stdlib understands a name (RFC 2231 UTF-8), we read the same thing."""
    raw = rfc2231_mail(sender=SENDER, subject="x", attachments=[("报表.xlsx", b"PK")], split=True)
    ours = parse_message(raw).attachments[0].name
    for pol in (email.policy.compat32, email.policy.default):
        msg = email.message_from_bytes(raw, policy=pol)
        names = [p.get_filename() for p in msg.walk() if p.get_filename()]
        assert names == [ours]


# ---------------------------------------------------------------------------------------
# Outlook .msg

def test_msg_unicode_with_embedded_message(tmp_path):
    xlsx = tiny_xlsx()
    data = outlook_msg(subject="关于报送2021-04轮报表（镕）", sender="KJJ@example.gov.cn", sender_name="市科技局 张三",
                       attachments=[("01_市科技局（喆）_2021-04.xlsx", xlsx, XLSX), ("说明.pdf", PDF, "application/pdf")],
                       sent=datetime(2021, 5, 7, 2, 0, tzinfo=timezone.utc), message_id="<abc@example.gov.cn>",
                       embedded=[{"subject": "转发", "sender": "gxj@example.gov.cn", "sender_name": "工信局",
                                  "attachments": [("工信局.xlsx", tiny_xlsx("工信"), XLSX)]}])
    path = tmp_path / "来信.msg"
    path.write_bytes(data)
    mail = parse_mail_file(path)
    assert mail.subject == "关于报送2021-04轮报表（镕）"
    assert (mail.sender, mail.sender_name) == ("kjj@example.gov.cn", "市科技局 张三")
    assert mail.date == at("2021-05-07T10:00:00+08:00")
    assert mail.message_id == "<abc@example.gov.cn>"
    assert [a.name for a in mail.attachments] == ["01_市科技局（喆）_2021-04.xlsx", "说明.pdf", "工信局.xlsx"]
    assert mail.attachments[0].data == xlsx
    assert [is_spreadsheet(a) for a in mail.attachments] == [True, False, True]
    assert mail.origin_of(mail.attachments[2]).sender == "gxj@example.gov.cn"


def test_msg_ansi_gbk_strings_exchange_sender_and_transport_headers(tmp_path):
    headers = ("Received: from mx by exch; Fri, 7 May 2021 08:30:00 +0000\r\n"
               "From: =?gb2312?B?" + __import__("base64").b64encode("市水利局".encode("gbk")).decode()
               + "?= <SLJ@example.gov.cn>\r\nDate: Fri, 7 May 2021 16:29:00 +0800\r\nMessage-ID: <hdr@example>\r\n")
    data = outlook_msg(subject="水利局报表（镕）", sender="slj@example.gov.cn", sender_name="市水利局",
                       attachments=[("水利局（喆）.xls", tiny_xls(), "application/vnd.ms-excel")],
                       unicode=False, codepage=936, headers=headers, exchange_dn=True)
    path = tmp_path / "a.msg"
    path.write_bytes(data)
    mail = parse_mail_file(path)
    assert mail.subject == "水利局报表（镕）"
    assert mail.sender == "slj@example.gov.cn" and mail.sender_name == "市水利局"
    assert mail.date == at("2021-05-07T16:29:00+08:00")
    assert mail.message_id == "<hdr@example>"
    assert [a.name for a in mail.attachments] == ["水利局（喆）.xls"]


def test_msg_exchange_dn_without_headers_uses_smtp_address(tmp_path):
    data = outlook_msg(subject="s", sender="zs@example.gov.cn", sender_name="张三", attachments=[], exchange_dn=True)
    path = tmp_path / "a.msg"
    path.write_bytes(data)
    mail = parse_mail_file(path)
    assert mail.sender == "zs@example.gov.cn" and mail.date is None and mail.attachments == ()


def test_eml_file_and_errors(tmp_path):
    eml = tmp_path / "a.eml"
    eml.write_bytes(foxmail_mail(sender=SENDER, sender_name="x", subject="y", attachments=[("a.xlsx", b"PK")]))
    assert parse_mail_file(eml).attachments[0].name == "a.xlsx"
    for name, data in {"empty.eml": b"", "pdf.eml": PDF, "broken.msg": compound_file({"x": b"1"})[:700],
                       "zip.eml": zip_bytes([("a.xlsx", b"1")])}.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(MailFileError) as info:
            parse_mail_file(path)
        assert name in str(info.value)
    with pytest.raises(MailFileError):
        parse_mail_file(tmp_path / "missing.eml")
