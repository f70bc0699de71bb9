#!/usr/bin/env python3
"""Mail for the Baomi corpus, written with Python's `email` package the way Chinese mail
clients (Foxmail, Outlook on a Chinese system, webmail) write it.

Usage:
  make_mail.py eml OUT.eml ATTACHMENT.zip    the leak: secret docx in a zip in a mail
  make_mail.py mbox OUT.mbox                 three messages: clean, personal data, marked subject
"""

import base64
import mailbox
import sys
from email.charset import QP, Charset
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email import encoders
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))


def encoded_word(text: str, charset: str) -> str:
    """RFC 2047 B-encoding in the given charset. Written by hand because `email` would pick
    UTF-8 or its own preference; GBK encoded-words are what Chinese clients send."""
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode('ascii')}?="


def address(name: str, mailbox_address: str, charset: str) -> str:
    return f"{encoded_word(name, charset)} <{mailbox_address}>"


def leak_eml(out_path: str, attachment_path: str) -> None:
    # Fixed boundaries and envelope lines: the same run makes the same bytes.
    message = MIMEMultipart("mixed", boundary="----=_NextPart_000_0017_01DA8F3C.5B2E4A10")
    message["From"] = address("周明远", "zhoumy@binjiang-fgw.example.cn", "GBK")
    message["To"] = address("老同学", "old.classmate1988@example.com", "GBK")
    message["Subject"] = encoded_word("转发：会议材料", "GBK")
    message["Date"] = format_datetime(datetime(2026, 3, 6, 21, 14, 5, tzinfo=CST))
    message["Message-ID"] = "<20260306211405.4417@binjiang-fgw.example.cn>"
    message["X-Mailer"] = "Foxmail 7.2.25.375[cn]"

    # GB2312 body in quoted-printable: the case where a reader must undo the transfer
    # encoding and then the charset.
    body_charset = Charset("gb2312")
    body_charset.body_encoding = QP
    body = (
        "老同学你好：\n"
        "上次说的材料我整理了一下，放在附件压缩包里了，你先看看，看完就删掉，别外传。\n"
        "有什么问题周末电话联系。\n"
        "\n"
        "周明远\n"
        "2026年3月6日\n"
    )
    message.attach(MIMEText(body, "plain", body_charset))

    with open(attachment_path, "rb") as src:
        attachment = MIMEBase("application", "x-zip-compressed")
        attachment.set_payload(src.read())
    encoders.encode_base64(attachment)
    # Foxmail and Outlook put an RFC 2047 encoded-word inside the quoted parameter, which
    # RFC 2231 does not allow but every reader has to accept.
    filename = encoded_word("材料.zip", "GBK")
    attachment.set_param("name", filename)
    attachment.add_header("Content-Disposition", "attachment", filename=filename)
    message.attach(attachment)

    with open(out_path, "wb") as out:
        out.write(message.as_bytes())


def envelope(message, sender: str, date: str) -> mailbox.mboxMessage:
    """The mbox "From " line, fixed instead of mailbox's default of the current time."""
    entry = mailbox.mboxMessage(message)
    entry.set_from(f"{sender} {date}")
    return entry


def inbox_mbox(out_path: str) -> None:
    box = mailbox.mbox(out_path, create=True)
    box.lock()
    try:
        box.clear()

        clean = MIMEText(
            "各位同事：\n本周例会改在周四下午三点，地点不变，请相互转告。\n办公室\n", "plain", "utf-8"
        )
        clean["From"] = address("办公室", "office@binjiang-tjj.example.cn", "UTF-8")
        clean["To"] = "all-staff@binjiang-tjj.example.cn"
        clean["Subject"] = encoded_word("本周例会时间调整", "UTF-8")
        clean["Date"] = format_datetime(datetime(2026, 3, 2, 8, 30, 0, tzinfo=CST))
        box.add(envelope(clean, "office@binjiang-tjj.example.cn", "Mon Mar  2 08:30:00 2026"))

        # Three resident IDs (valid check characters) and phones in a sign-up list.
        roster = MIMEText(
            "培训报名人员如下，请审核：\n"
            "1. 王建国，身份证号11010519491231002X，手机13800138000\n"
            "2. 李秀英，身份证号310104198203150026，手机13911112222\n"
            "3. 赵志强，身份证号440106199001010013，手机18622223333\n"
            "人事处\n",
            "plain",
            "gb2312",
        )
        roster["From"] = address("人事处", "rsc@binjiang-tjj.example.cn", "GB2312")
        roster["To"] = "training@example.org"
        roster["Subject"] = encoded_word("培训报名人员名单", "GB2312")
        roster["Date"] = format_datetime(datetime(2026, 3, 3, 10, 5, 0, tzinfo=CST))
        box.add(envelope(roster, "rsc@binjiang-tjj.example.cn", "Tue Mar  3 10:05:00 2026"))

        marked = MIMEMultipart("mixed", boundary="----=_Part_4417_1709541600")
        marked["From"] = address("法规处", "fgc@binjiang-tjj.example.cn", "UTF-8")
        marked["To"] = "director@binjiang-tjj.example.cn"
        marked["Subject"] = encoded_word("【秘密】关于机构调整方案的意见", "UTF-8")
        marked["Date"] = format_datetime(datetime(2026, 3, 4, 16, 40, 0, tzinfo=CST))
        marked.attach(MIMEText("局长：\n机构调整方案意见汇总见附件，请审阅。\n", "plain", "utf-8"))
        notes = MIMEText(
            "一、信息中心与档案馆合并后，编制按原核定数的九成安排。\n"
            "二、合并方案公布前，请各处室严格控制知悉范围。\n",
            "plain",
            "utf-8",
        )
        # RFC 2231 filename, the standard way (Thunderbird, Apple Mail).
        notes.add_header("Content-Disposition", "attachment", filename=("utf-8", "", "意见汇总.txt"))
        marked.attach(notes)
        box.add(envelope(marked, "fgc@binjiang-tjj.example.cn", "Wed Mar  4 16:40:00 2026"))
        box.flush()
    finally:
        box.unlock()
        box.close()


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "eml":
        leak_eml(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "mbox":
        inbox_mbox(sys.argv[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
