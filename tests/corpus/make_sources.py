#!/usr/bin/env python3
"""Write the source documents of the Baomi test corpus into a staging directory.

LibreOffice then turns the flat ODF sources (.fodt, .fods, .fodp) into .docx, .odt, .xlsx,
.pptx and .pdf (see make.sh); the plain-text files are written here directly in their final
encodings. Everything is deterministic: the same run produces the same texts.

Usage: make_sources.py STAGEDIR
"""

import os
import random
import sys
from xml.sax.saxutils import escape

# ISO 7064 MOD 11-2, as GB 11643-1999 uses it for the 18th character of a resident ID.
ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
ID_CHECK_CHARS = "10X98765432"


def resident_id_check_char(first17: str) -> str:
    total = sum(int(digit) * weight for digit, weight in zip(first17, ID_WEIGHTS))
    return ID_CHECK_CHARS[total % 11]


def make_resident_id(rng: random.Random) -> str:
    # Region codes of real districts, so a validator that checks the province accepts them.
    region = rng.choice(["110105", "310104", "440106", "330106", "510107", "420106", "370102", "610113"])
    year = rng.randint(1960, 2002)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28)  # every month has a 28th: the birth date always exists
    sequence = rng.randint(1, 999)
    first17 = f"{region}{year:04d}{month:02d}{day:02d}{sequence:03d}"
    return first17 + resident_id_check_char(first17)


def make_mobile(rng: random.Random) -> str:
    prefix = rng.choice(["138", "139", "150", "151", "186", "187", "135", "177"])
    return prefix + "".join(str(rng.randint(0, 9)) for _ in range(8))


# ---------------------------------------------------------------------------------------------
# Texts. Official-document style (公文, GB/T 9704-2012); all names and units are invented.

NOTICE_SECRET_HEAD = ["000123", "机密★10年", "特急"]
NOTICE_SECRET_TITLE = "关于做好2026年度重点项目核查工作的通知"
NOTICE_SECRET_BODY = [
    "滨江市发展和改革委员会文件",
    "滨发改〔2026〕17号",
    NOTICE_SECRET_TITLE,
    "各区发展改革局，委机关各处室、各直属单位：",
    "为全面掌握全市重点项目建设进展，防范项目资金使用风险，经委党组研究决定，"
    "自2026年3月起在全市范围内开展重点项目专项核查工作。现将有关事项通知如下：",
    "一、核查范围。2024年以来列入市级重点项目计划、使用中央预算内投资或市级财政资金的"
    "全部在建项目，共计一百二十七个，项目清单见附件一。",
    "二、核查内容。重点核查项目审批手续是否完备、资金拨付与工程进度是否匹配、"
    "招标投标程序是否合规，以及项目单位是否存在虚报冒领、挤占挪用等问题。",
    "三、时间安排。各区于4月15日前完成自查，委核查组于5月底前完成实地抽查，"
    "6月10日前形成核查报告报委党组。",
    "四、工作要求。各单位要高度重视，明确一名分管领导负责，如实提供有关材料。"
    "核查中涉及的项目清单和资金数据只限核查组工作人员知悉，不得擅自复制、转发。",
    "联系人：投资处 周明远，联系电话：0571-87061234。",
    "附件：1. 2026年度重点项目核查清单",
    "2. 重点项目核查工作底稿（样式）",
    "滨江市发展和改革委员会",
    "2026年3月2日",
]

REPORT_CLEAN_TITLE = "2025年度保密工作情况报告"
REPORT_CLEAN_BODY = [
    REPORT_CLEAN_TITLE,
    "市保密委员会：",
    "2025年，我局认真贯彻落实《中华人民共和国保守国家秘密法》及其实施条例，"
    "坚持“业务工作谁主管、保密工作谁负责”的原则，把保守国家秘密作为一项政治任务抓紧抓实。"
    "现将全年保密工作情况报告如下。",
    "一、强化组织领导。局党组全年4次专题研究保密工作，调整充实了局保密委员会，"
    "明确各处室主要负责人为本处室保密工作第一责任人，层层签订保密责任书。",
    "二、加强定密管理。全年共审核定密事项三十六项，对秘密级以上的文件实行登记、编号、"
    "签收制度，严格控制知悉范围。属于机密、秘密、绝密的文件一律不得复印，"
    "确需复制的须经局领导批准并履行登记手续。",
    "三、抓好涉密载体和网络管理。开展涉密计算机和存储介质专项检查两次，"
    "清理出未登记的移动存储介质十一件，已全部收回处理。严禁在非涉密计算机上处理国家秘密，"
    "严禁通过互联网电子邮箱、即时通信工具传递工作秘密和敏感信息。",
    "四、开展宣传教育。组织全局干部职工观看保密警示教育片，举办保密知识讲座三场，"
    "新入职人员全部参加了保密培训并签订保密承诺书。",
    "五、存在的问题和下一步打算。少数干部对内部资料、工作秘密的管理要求理解不深，"
    "个别处室存在用普通邮箱发送内部文件的情况。2026年我局将继续加强保密检查，"
    "完善保密工作制度，确保不发生失泄密事件。",
    "滨江市统计局",
    "2026年1月12日",
]

MINUTES_TITLE = "第七次局务会议纪要"
MINUTES_BODY = [
    MINUTES_TITLE,
    "时间：2026年2月26日上午9时",
    "地点：局机关三楼第一会议室",
    "主持：陈国华",
    "出席：刘文彬、赵丽萍、孙建平、黄志强",
    "列席：办公室、计划财务处、法规处负责同志",
    "会议听取了计划财务处关于2026年部门预算执行情况的汇报，研究了下属单位机构调整方案。"
    "纪要如下：",
    "一、原则同意下属信息中心与档案馆合并的调整方案，由办公室会同人事处于3月底前"
    "拟订具体实施办法，报局党组审定。",
    "二、同意追加网络安全防护经费八十五万元，由计划财务处按程序办理。",
    "三、会议要求，机构调整方案在正式公布前严格控制知悉范围，与会人员不得对外透露。",
    "送：局领导，各处室。",
]

SLIDES = [
    ["2026年第一季度工作情况汇报", "内部资料 注意保存"],
    ["主要指标完成情况", "地区生产总值同比增长5.2%，固定资产投资同比增长4.1%。"],
    ["下一步工作安排", "加快重点项目建设进度，做好二季度经济运行监测分析。"],
]

NAME_MARKED_BODY = [
    "关于调整部分人员工作岗位的通知",
    "局属各单位：",
    "根据工作需要，经局党组研究决定，对部分人员的工作岗位作如下调整：",
    "李振华同志调任办公室副主任；王晓燕同志调任人事处副处长；张卫东同志调任信息中心主任。",
    "请有关单位于3月15日前办理工作交接手续。",
    "滨江市统计局办公室",
    "2026年3月5日",
]

# Traditional characters, as a document typed on a Traditional system or copied from
# a Hong Kong or Taiwan source would carry them. 絕密★啟用前 is the exam-paper marking.
GBK_NOTICE = [
    "絕密★啟用前",
    "2026年全市公務員錄用考試筆試試題",
    "行政職業能力測驗",
    "注意事項：",
    "一、本試卷共一百三十五題，考試時間一百二十分鐘。",
    "二、請在答題卡上嚴格按照要求填寫姓名、準考證號。",
    "三、考試結束前不得將試卷和答題卡帶出考場。",
]

UTF16_NOTICE = [
    "000457",
    "秘密★6个月",
    "关于开展2026年春季安全生产大检查的通知",
    "各区应急管理局：",
    "为切实防范和遏制重特大事故发生，决定自3月10日起开展全市春季安全生产大检查，"
    "重点检查危险化学品、建筑施工、道路运输和人员密集场所。检查中发现的重大隐患清单"
    "请于4月30日前报送市安委会办公室。",
    "滨江市安全生产委员会办公室",
    "2026年3月3日",
]

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["建国", "秀英", "志强", "丽萍", "海燕", "文斌", "晓东", "春梅", "国庆", "玉兰", "伟", "静", "磊", "敏"]
POSTS = ["科员", "副科长", "科长", "主任科员", "四级调研员", "办事员"]


# ---------------------------------------------------------------------------------------------
# Flat ODF writers. Only what LibreOffice needs to lay the documents out.

NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/"'
)


def paragraph(text: str, style: str = "Body") -> str:
    return f'<text:p text:style-name="{style}">{escape(text)}</text:p>'


def fodt(title: str, header: str | None, head_lines: list[str], body: list[str], title_line: str) -> str:
    """A text document: optional page header, GB/T 9704-like head lines, centred title."""
    header_xml = f"<style:header>{paragraph(header, 'Header')}</style:header>" if header else ""
    paragraphs = [paragraph(line, "Head") for line in head_lines]
    for line in body:
        paragraphs.append(paragraph(line, "Title" if line == title_line else "Body"))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {NS} office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.text">
 <office:meta><dc:title>{escape(title)}</dc:title></office:meta>
 <office:styles>
  <style:style style:name="Body" style:family="paragraph">
   <style:paragraph-properties fo:text-indent="0.74cm" fo:margin-bottom="0.2cm"/>
   <style:text-properties style:font-name-asian="FangSong" style:font-size-asian="16pt" fo:font-size="16pt"/>
  </style:style>
  <style:style style:name="Head" style:family="paragraph">
   <style:text-properties style:font-name-asian="SimHei" style:font-size-asian="16pt" fo:font-size="16pt"/>
  </style:style>
  <style:style style:name="Title" style:family="paragraph">
   <style:paragraph-properties fo:text-align="center" fo:margin-top="0.5cm" fo:margin-bottom="0.5cm"/>
   <style:text-properties style:font-name-asian="SimSun" style:font-size-asian="22pt" fo:font-size="22pt" fo:font-weight="bold" style:font-weight-asian="bold"/>
  </style:style>
  <style:style style:name="Header" style:family="paragraph">
   <style:paragraph-properties fo:text-align="start"/>
   <style:text-properties style:font-name-asian="SimHei" style:font-size-asian="12pt" fo:font-size="12pt"/>
  </style:style>
 </office:styles>
 <office:automatic-styles>
  <style:page-layout style:name="A4">
   <style:page-layout-properties fo:page-width="21cm" fo:page-height="29.7cm" fo:margin-top="2.5cm" fo:margin-bottom="2.5cm" fo:margin-left="2.8cm" fo:margin-right="2.6cm"/>
   <style:header-style><style:header-footer-properties fo:min-height="0.8cm"/></style:header-style>
  </style:page-layout>
 </office:automatic-styles>
 <office:master-styles>
  <style:master-page style:name="Standard" style:page-layout-name="A4">{header_xml}</style:master-page>
 </office:master-styles>
 <office:body><office:text>
  {chr(10).join(paragraphs)}
 </office:text></office:body>
</office:document>
"""


def fods(sheet_name: str, rows: list[list[str]]) -> str:
    """A spreadsheet whose every cell is a string: IDs and phones must not become numbers."""
    xml_rows = []
    for row in rows:
        cells = "".join(
            f'<table:table-cell office:value-type="string"><text:p>{escape(cell)}</text:p></table:table-cell>'
            for cell in row
        )
        xml_rows.append(f"<table:table-row>{cells}</table:table-row>")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {NS} office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.spreadsheet">
 <office:body><office:spreadsheet>
  <table:table table:name="{escape(sheet_name)}">
   <table:table-column table:number-columns-repeated="{len(rows[0])}"/>
   {chr(10).join(xml_rows)}
  </table:table>
 </office:spreadsheet></office:body>
</office:document>
"""


def fodp(slides: list[list[str]]) -> str:
    """A presentation: one text frame per line of each slide."""
    pages = []
    for number, lines in enumerate(slides, start=1):
        frames = []
        for index, line in enumerate(lines):
            y = 2 + index * 4
            frames.append(
                f'<draw:frame svg:x="2cm" svg:y="{y}cm" svg:width="24cm" svg:height="3cm">'
                f"<draw:text-box>{paragraph(line, 'Body')}</draw:text-box></draw:frame>"
            )
        pages.append(
            f'<draw:page draw:name="page{number}" draw:master-page-name="Default">{"".join(frames)}</draw:page>'
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document {NS} office:version="1.3" office:mimetype="application/vnd.oasis.opendocument.presentation">
 <office:styles>
  <style:style style:name="Body" style:family="paragraph">
   <style:text-properties fo:font-size="24pt" style:font-size-asian="24pt"/>
  </style:style>
 </office:styles>
 <office:automatic-styles>
  <style:page-layout style:name="PM1">
   <style:page-layout-properties fo:page-width="28cm" fo:page-height="15.75cm" style:print-orientation="landscape"/>
  </style:page-layout>
 </office:automatic-styles>
 <office:master-styles>
  <style:master-page style:name="Default" style:page-layout-name="PM1"/>
 </office:master-styles>
 <office:body><office:presentation>
  {chr(10).join(pages)}
 </office:presentation></office:body>
</office:document>
"""


def people_rows(rng: random.Random, count: int) -> list[list[str]]:
    rows = [["序号", "姓名", "性别", "身份证号码", "手机号码", "职务"]]
    for number in range(1, count + 1):
        name = rng.choice(SURNAMES) + rng.choice(GIVEN)
        resident_id = make_resident_id(rng)
        # The 17th digit is odd for men and even for women (GB 11643-1999).
        sex = "男" if int(resident_id[16]) % 2 == 1 else "女"
        rows.append([str(number), name, sex, resident_id, make_mobile(rng), rng.choice(POSTS)])
    return rows


def write(path: str, data: str | bytes) -> None:
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode, **({} if isinstance(data, bytes) else {"encoding": "utf-8"})) as out:
        out.write(data)


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit("usage: make_sources.py STAGEDIR")
    stage = sys.argv[1]
    os.makedirs(stage, exist_ok=True)
    rng = random.Random(20260301)

    # 11010519491231002X is the worked example of GB 11643; keep the generator honest.
    assert resident_id_check_char("11010519491231002") == "X"

    write(
        os.path.join(stage, "notice-secret.fodt"),
        fodt(NOTICE_SECRET_TITLE, "机密★10年", NOTICE_SECRET_HEAD, NOTICE_SECRET_BODY, NOTICE_SECRET_TITLE),
    )
    write(
        os.path.join(stage, "report-clean.fodt"),
        fodt(REPORT_CLEAN_TITLE, "滨江市统计局", [], REPORT_CLEAN_BODY, REPORT_CLEAN_TITLE),
    )
    write(os.path.join(stage, "minutes.fodt"), fodt(MINUTES_TITLE, "秘密", [], MINUTES_BODY, MINUTES_TITLE))
    rows = people_rows(rng, 12)
    write(os.path.join(stage, "table.fods"), fods("人员信息", rows))
    # The same table as text, for the integration tests to compare against.
    write(os.path.join(stage, "table-ids.txt"), "".join(row[3] + "\n" for row in rows[1:]))
    write(os.path.join(stage, "slides.fodp"), fodp(SLIDES))

    write(os.path.join(stage, "关于调整人员的通知（秘密）.txt"), "\n".join(NAME_MARKED_BODY) + "\n")
    write(os.path.join(stage, "gbk-notice.txt"), ("\r\n".join(GBK_NOTICE) + "\r\n").encode("gbk"))
    # Windows Notepad's "Unicode": UTF-16LE with a byte-order mark, CRLF line ends.
    write(os.path.join(stage, "utf16.txt"), b"\xff\xfe" + ("\r\n".join(UTF16_NOTICE) + "\r\n").encode("utf-16-le"))


if __name__ == "__main__":
    main()
