#!/usr/bin/python3
"""Writes a mail whose zip attachment holds a .docx marked 机密★1年 (python-docx), as the
bytes a client sends after DATA (CRLF line ends). Usage: make_marked_mail.py OUT.eml"""
import io
import sys
import zipfile
from email.message import EmailMessage
from email.policy import SMTP

import docx

document = docx.Document()
document.add_paragraph("机密★1年")
document.add_paragraph("关于二〇二六年度网络安全检查工作的通知")
document.add_paragraph("各部门：请按要求完成自查。")
docx_bytes = io.BytesIO()
document.save(docx_bytes)

archive = io.BytesIO()
with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("通知.docx", docx_bytes.getvalue())

msg = EmailMessage()
msg["From"] = "Alice <alice@example.test>"
msg["To"] = "bob@example.test"
msg["Subject"] = "材料"
msg["Date"] = "Sat, 21 Nov 2026 08:00:00 +0800"
msg["Message-ID"] = "<marked-1@example.test>"
msg.set_content("请查收附件。\n")
msg.add_attachment(archive.getvalue(), maintype="application", subtype="zip",
                   filename="材料.zip")
with open(sys.argv[1], "wb") as f:
    f.write(msg.as_bytes(policy=SMTP))
