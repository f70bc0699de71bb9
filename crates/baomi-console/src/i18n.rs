//! The console's words, in Chinese (the default) and English. Both are complete: a test
//! reads every template and fails on a key missing here.

use std::collections::HashMap;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" | "zh_CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// (key, Chinese, English).
pub const WORDS: &[(&str, &str, &str)] = &[
    (
        "app.name",
        "保密检查与防泄密系统",
        "Baomi confidentiality protection",
    ),
    ("app.short", "保密", "Baomi"),
    ("nav.dashboard", "工作台", "Dashboard"),
    ("nav.incidents", "事件队列", "Incidents"),
    ("nav.policy", "策略与检测", "Policy"),
    ("nav.registry", "登记文件", "Registered documents"),
    ("nav.approvals", "账户审批", "Approvals"),
    ("nav.audit", "审计日志", "Audit trail"),
    ("nav.accounts", "账户管理", "Accounts"),
    ("nav.tokens", "API 令牌", "API tokens"),
    ("nav.health", "节点状态", "Node health"),
    ("nav.campaigns", "保密自查", "Self-inspection"),
    ("nav.statistics", "自查统计表", "Statistics table"),
    ("nav.clues", "线索报告", "Clue reports"),
    ("common.saved", "已保存", "Saved"),
    ("nav.ledger", "载体台账", "Carrier ledger"),
    ("nav.redact", "数据脱敏", "De-identify"),
    (
        "redact.note",
        "发布前数据脱敏：上传文件，下载个人信息已在内容中遮蔽的副本（身份证号、手机号、固定电话、银行卡号、统一社会信用代码、护照号、车牌号、电子邮箱），与命令 baomi redact 相同。脱敏处数计入审计日志，不记录具体内容。",
        "De-identification before publishing: upload a file and download a copy with personal data masked in the content itself (ID, mobile and landline numbers, bank cards, USCC, passports, plates, e-mail), as `baomi redact` does. The counts, never the values, go into the audit trail.",
    ),
    ("redact.button", "脱敏并下载", "Redact and download"),
    (
        "redact.limits",
        "支持 txt（保持原编码）、HTML、DOCX、XLSX；PDF 不支持（请先转换为 DOCX）；图片中的个人信息和人名不处理，发布前请人工检查。",
        "txt (its encoding kept), HTML, DOCX and XLSX; PDF is refused (convert it to DOCX first); personal data in pictures and people's names are not handled — check before publishing.",
    ),
    (
        "ledger.note",
        "涉密载体台账：涉密计算机、移动存储介质（含序列号，终端代理据此识别）和涉密文件；每次发放、清退、销毁、归档都有记录，销毁须由第二人监销。可导入现有 Excel 台账（按表头识别各列），也可导出。",
        "The ledger of classified carriers: computers, removable media (with the serial the endpoint agent reads) and documents; every issue, return, destruction and archiving is recorded, and a destruction needs a second person. Import an existing XLSX ledger (columns by their headers) or export it.",
    ),
    ("ledger.add", "登记载体", "Register a carrier"),
    ("ledger.import", "导入 Excel 台账", "Import an XLSX ledger"),
    ("ledger.import_button", "导入", "Import"),
    ("ledger.export", "导出 Excel", "Export XLSX"),
    ("ledger.imported", "已导入条数：", "Rows imported:"),
    ("ledger.none", "台账为空。", "The ledger is empty."),
    (
        "ledger.fingerprinted",
        "已登记指纹",
        "In the fingerprint registry",
    ),
    ("ledger.fp", "指纹", "fingerprint"),
    ("ledger.change", "登记变更", "Record a change"),
    ("ledger.event", "变更", "Change"),
    ("ledger.holder", "接收人/交回人", "To / from whom"),
    ("ledger.witness", "监销人", "Witness"),
    (
        "ledger.witness_hint",
        "销毁时必填，须为他人",
        "required to destroy; someone else",
    ),
    ("ledger.history", "变更记录", "History"),
    ("ledger.recorded_by", "登记人", "Recorded by"),
    (
        "ledger.fp_note",
        "将本文件登记到指纹库：此后其摘抄、改写（去掉密级标志后）在各通道都能被识别。",
        "Register this document's file in the fingerprint registry: excerpts of it, even without the marking, are then recognised on every channel.",
    ),
    ("ledger.fp_button", "登记到指纹库", "Register fingerprint"),
    (
        "ledger.fp_done",
        "已登记到指纹库。",
        "Registered in the fingerprint registry.",
    ),
    (
        "camp.note",
        "一次自查活动有名称、时段和范围（部门）。各计算机运行 baomi scan --report-to 报送结果，离线计算机的报告文件由 baomi campaign import 导入；此处对照人员名册，看谁已报送、谁未报送（不漏一人、一机）。",
        "A campaign has a name, a period and the departments it covers. Each computer reports with baomi scan --report-to; report files from offline computers are loaded with baomi campaign import. This page compares the reports with the directory: who has reported and who has not.",
    ),
    ("camp.add", "新建自查活动", "New campaign"),
    ("camp.name", "活动名称", "Name"),
    (
        "camp.name_example",
        "如：2026年第四季度保密自查",
        "e.g. 2026 Q4 self-inspection",
    ),
    ("camp.departments", "范围（部门）", "Departments"),
    (
        "camp.departments_hint",
        "用顿号或逗号分隔；留空为全部部门",
        "comma-separated; empty: every department",
    ),
    ("camp.all_departments", "全部部门", "every department"),
    ("camp.note_field", "说明", "Note"),
    ("camp.period", "时段", "Period"),
    ("camp.created", "创建时间", "Created"),
    ("camp.open", "查看", "Open"),
    ("camp.none", "尚无自查活动。", "No campaign yet."),
    ("camp.reported", "已报送", "Reported"),
    ("camp.people", "人", "people"),
    ("camp.roster", "名册", "roster"),
    (
        "camp.how_to_report",
        "报送方法（在每台计算机上执行）：",
        "How to report (on every computer):",
    ),
    ("camp.coverage", "各部门报送情况", "Coverage by department"),
    (
        "camp.reported_people",
        "已报送人员及计算机",
        "Reported (people and computers)",
    ),
    ("camp.missing", "未报送人员", "Not reported"),
    (
        "camp.missing_machines",
        "未报送计算机",
        "Computers not reported",
    ),
    ("camp.files", "检查文件数", "Files checked"),
    ("camp.alerting", "告警文件", "Alerting files"),
    ("camp.entry", "填报（统计表）", "Figures for the table"),
    (
        "camp.no_departments",
        "名册为空，且尚无报送。",
        "The directory is empty and nothing was reported.",
    ),
    ("camp.runs", "报送记录", "Reports received"),
    ("camp.machine", "计算机", "Computer"),
    (
        "camp.no_runs",
        "本活动时段内尚无报送。",
        "Nothing reported in this campaign's period yet.",
    ),
    ("camp.via", "方式", "How"),
    ("camp.via_network", "网络报送", "network"),
    ("camp.via_import", "离线导入", "imported file"),
    ("camp.signed", "签名令牌", "Signed by"),
    ("camp.unsigned", "未签名", "unsigned"),
    ("camp.run_id", "报告编号", "Run"),
    (
        "camp.bad_count",
        "数量须为非负整数。",
        "Counts must be whole numbers.",
    ),
    ("stat.campaign", "自查活动", "Campaign"),
    ("stat.by_period", "（按时段统计）", "(by period)"),
    ("stat.xlsx", "下载 Excel", "Download XLSX"),
    ("stat.pdf", "下载 PDF", "Download PDF"),
    ("stat.csv", "下载 CSV", "Download CSV"),
    ("stat.chat_groups", "工作群", "Chat groups"),
    ("stat.mini_programs", "小程序", "Mini-programs"),
    ("stat.measures", "主要整改措施", "Main measures"),
    (
        "stat.explain",
        "自查人数：时段内有自查报送的人数。涉及文件：自查发现的文件，按每个文件的最高密级标志计一次（同一计算机同一路径只计一次），已判定为误报的不计，与事件队列中“自查扫描”渠道的事件一致。上报线索数：时段内已报送的线索报告。工作群、小程序数及整改措施由保密员在自查活动中填报。",
        "People: who reported a self-inspection in the period. Files: files the self-inspection raised, each counted once under its highest marking (one per computer and path), false positives excluded — the same as the scan incidents in the queue. Clues: clue reports issued in the period. Chat groups, mini-programs and measures are entered for the campaign.",
    ),
    (
        "clue.note",
        "违规问题线索和存在隐患报告表：在事件队列中勾选事件后点“生成线索报告”起草；报送后内容冻结（内容摘要记入审计链），如需更正则生成新版本。",
        "Violation clue reports: select incidents in the queue and choose “Draft a clue report”. Once issued a report is frozen (its hash is in the audit chain); a correction is a new version.",
    ),
    ("clue.number", "编号", "Number"),
    ("clue.version", "版本", "Version"),
    ("clue.state", "状态", "State"),
    ("clue.occurring_unit", "发生单位", "Where it happened"),
    ("clue.category", "类别", "Category"),
    ("clue.incidents", "关联事件", "Incidents"),
    ("clue.none", "尚无线索报告。", "No clue report yet."),
    ("clue.docx", "下载 Word", "Download DOCX"),
    ("clue.pdf", "下载 PDF", "Download PDF"),
    (
        "clue.correct",
        "更正（生成新版本）",
        "Correct (new version)",
    ),
    (
        "clue.frozen",
        "本报告已报送，内容已冻结，不能修改。",
        "This report was issued and is frozen.",
    ),
    (
        "clue.remedy_hint",
        "已采取的补救措施和整改安排",
        "What was done and will be done",
    ),
    (
        "clue.issue_note",
        "报送后报告内容冻结，不能再修改；内容摘要记入审计链。请确认各栏内容无误。",
        "Once issued the report cannot be changed; its hash goes into the audit chain. Check every field first.",
    ),
    ("clue.issue", "报送", "Issue"),
    (
        "clue.issued_done",
        "已报送，报告已冻结。",
        "Issued; the report is frozen.",
    ),
    (
        "clue.drafted",
        "已根据所选事件起草线索报告，请核对修改后报送。",
        "Draft made from the incidents: check and edit it, then issue.",
    ),
    (
        "clue.correction_started",
        "已生成更正版本（草稿）。",
        "Correction started (a draft).",
    ),
    (
        "clue.no_incidents",
        "请先勾选事件。",
        "Select incidents first.",
    ),
    ("clue.make", "生成线索报告", "Draft a clue report"),
    ("nav.reviews", "发布审查", "Publication review"),
    (
        "review.note",
        "信息发布保密审查：一事一审、先审查后公开、谁发布谁审核谁负责。提交后系统即刻检测标密、个人信息、登记涉密文件摘录和敏感词，再依次经部门自审、办公室审核、分管领导审批。",
        "Publication secrecy review: each item is reviewed before it is published. It is scanned on submission, then decided by the department, the office and the leader in turn.",
    ),
    ("review.new", "提交发布审查", "Submit for review"),
    ("review.title", "标题", "Title"),
    ("review.text", "正文", "Text"),
    (
        "review.text_hint",
        "拟发布的正文（网站、公众号、简报等）",
        "The text to publish (web site, public account, bulletin…)",
    ),
    ("review.files", "附件", "Files"),
    (
        "review.files_hint",
        "可多选；正文和附件合计不超过 64 MB",
        "Several allowed; at most 64 MB together",
    ),
    (
        "review.files_again",
        "新稿的附件需重新选择",
        "Choose the files of the new version again",
    ),
    ("review.submit", "提交审查", "Submit"),
    ("review.number", "编号", "Number"),
    ("review.drafter", "拟稿人", "Drafter"),
    ("review.version", "稿次", "Version"),
    ("review.version_n", "稿次", "Version"),
    ("review.state", "状态", "State"),
    ("review.none", "没有待处理的审查事项。", "No item here."),
    ("review.tab_mine", "待我审核", "Waiting for me"),
    ("review.tab_all", "全部", "All"),
    ("review.submitted_at", "提交时间", "Submitted"),
    (
        "review.form_pdf",
        "下载保密审查表（PDF）",
        "Download the review form (PDF)",
    ),
    ("review.scan", "保密检测结果", "Scan result"),
    (
        "review.blocking",
        "检测发现达到阻断级别的内容（如密级标志、登记涉密文件摘录）。请逐条核实；如确需同意，须勾选确认并在意见中说明理由。",
        "The scan found block-level content (markings, excerpts of registered documents). Check each finding; to approve anyway, tick the box and say why in the comment.",
    ),
    ("review.content", "拟发布内容", "Content to publish"),
    ("review.download_text", "下载正文", "Download the text"),
    ("review.download", "下载", "Download"),
    ("review.redacted_copy", "脱敏副本", "Masked copy"),
    ("review.type", "类型", "Type"),
    ("review.size", "大小", "Size"),
    ("review.content_hash", "内容哈希", "Content hash"),
    ("review.text_hash", "正文哈希", "Text hash"),
    ("review.decide", "审核意见", "Your decision"),
    ("review.d_submit", "提交", "Submitted"),
    ("review.d_approve", "同意", "Approve"),
    ("review.d_reject", "退回修改", "Reject"),
    (
        "review.ack",
        "我已逐条查看上述检测发现，确认可以发布",
        "I have checked each finding above and confirm it may be published",
    ),
    ("review.comment", "意见", "Comment"),
    (
        "review.comment_hint",
        "同意可不填；退回须写明原因",
        "Optional to approve; a rejection says why",
    ),
    (
        "review.comment_hint_block",
        "须说明检测发现为何不影响发布",
        "Say why the findings do not stop publication",
    ),
    ("review.sign", "签署意见", "Sign"),
    (
        "review.cannot",
        "您不能审核此事项",
        "You may not decide this item",
    ),
    ("review.resubmit", "修改后重新提交", "Submit a new version"),
    (
        "review.resubmit_button",
        "提交新稿",
        "Submit the new version",
    ),
    ("review.history", "审查记录", "History"),
    ("review.step", "环节", "Step"),
    ("review.result", "结论", "Result"),
    ("review.signer", "签名", "Signed by"),
    ("review.acked", "已确认检测发现", "Findings acknowledged"),
    ("review.s_draft", "拟稿", "Draft"),
    ("review.s_self", "部门自审", "Department review"),
    ("review.s_office", "办公室审核", "Office review"),
    ("review.s_leader", "分管领导审批", "Leader approval"),
    ("review.s_approved", "审批通过", "Approved"),
    (
        "review.submitted",
        "已提交，检测结果见下。",
        "Submitted; the scan result is below.",
    ),
    (
        "review.resubmitted",
        "新稿已提交，重新从部门自审开始。",
        "The new version is submitted and starts again at the department review.",
    ),
    (
        "review.approved_done",
        "已签署同意。",
        "Approved and signed.",
    ),
    (
        "review.rejected_done",
        "已退回拟稿人。",
        "Sent back to the drafter.",
    ),
    (
        "review.choose",
        "请选择同意或退回。",
        "Choose approve or reject.",
    ),
    (
        "review.ack_needed",
        "检测发现达到阻断级别：同意前须勾选确认，并在意见中说明理由。",
        "Block-level findings: tick the box and give the reason before approving.",
    ),
    ("nav.me", "我的账户", "My account"),
    ("nav.logout", "退出", "Sign out"),
    ("nav.lang_other", "English", "中文"),
    ("login.title", "登录", "Sign in"),
    ("login.username", "用户名", "User name"),
    ("login.password", "密码", "Password"),
    (
        "login.totp",
        "动态验证码（已启用双因素时填写）",
        "One-time code (if two-factor is on)",
    ),
    ("login.submit", "登录", "Sign in"),
    (
        "login.failed",
        "用户名、密码或验证码不正确，或账户不可用。",
        "Wrong user name, password or code, or the account cannot sign in.",
    ),
    (
        "login.locked",
        "失败次数过多，账户已锁定 15 分钟。",
        "Too many failed attempts: the account is locked for 15 minutes.",
    ),
    (
        "login.needs_code",
        "请输入动态验证码。",
        "Enter the one-time code.",
    ),
    (
        "login.expired",
        "会话已过期，请重新登录。",
        "Your session ended; sign in again.",
    ),
    (
        "login.ldap_unavailable",
        "目录服务器（LDAP）暂时无法连接，无法核验密码。请稍后再试，或联系系统管理员。",
        "The directory server (LDAP) cannot be reached, so the password cannot be checked. Try again later or ask the system administrator.",
    ),
    (
        "login.no_role",
        "您不在任何系统角色组中，无权登录本系统。如需使用，请联系系统管理员。",
        "You are in none of the console's role groups and cannot sign in. Ask the system administrator.",
    ),
    (
        "login.role_conflict",
        "您在目录中同时属于多个管理角色组（三员互斥），暂不授予任何角色。请联系系统管理员调整角色组。",
        "You are in several administrative role groups of the directory (the three roles are mutually exclusive), so no role is given. Ask the system administrator to fix the groups.",
    ),
    (
        "login.ldap_hint",
        "可使用单位目录（LDAP）账号和密码登录。",
        "You may sign in with your directory (LDAP) account and password.",
    ),
    (
        "me.password_ldap",
        "本账户使用单位目录（LDAP）密码登录，请在目录中修改密码。",
        "This account signs in with the directory (LDAP) password: change it in the directory.",
    ),
    (
        "login.notice",
        "本系统仅供授权人员使用，所有操作均记入审计日志。",
        "For authorised staff only. Every action is recorded in the audit trail.",
    ),
    ("common.save", "保存", "Save"),
    ("common.apply", "筛选", "Filter"),
    ("common.reset", "清除", "Clear"),
    ("common.none", "无", "none"),
    ("common.all", "全部", "all"),
    ("common.yes", "是", "yes"),
    ("common.no", "否", "no"),
    ("common.back", "返回", "Back"),
    ("common.prev", "上一页", "Previous"),
    ("common.next", "下一页", "Next"),
    ("common.total", "共", "Total"),
    ("common.items", "条", "items"),
    ("common.page", "页", "page"),
    ("common.time", "时间", "Time"),
    ("common.actions", "操作", "Actions"),
    ("common.name", "名称", "Name"),
    ("common.status", "状态", "Status"),
    ("common.department", "部门", "Department"),
    ("common.done", "已完成。", "Done."),
    ("common.confirm", "确认", "Confirm"),
    ("common.cancel", "取消", "Cancel"),
    ("common.days", "天", "days"),
    ("common.from", "从", "From"),
    ("common.to", "至", "To"),
    ("common.submit", "提交", "Submit"),
    (
        "error.title",
        "无法完成请求",
        "The request could not be completed",
    ),
    ("error.401", "请先登录。", "Please sign in."),
    (
        "error.403",
        "您的角色无权访问此页面或执行此操作。此次尝试已记入审计日志。",
        "Your role may not open this page or do this. The attempt was recorded in the audit trail.",
    ),
    (
        "error.404",
        "未找到该页面或记录。",
        "No such page or record.",
    ),
    ("error.413", "文件过大。", "The file is too large."),
    ("error.400", "请求有误。", "The request was not valid."),
    ("error.500", "服务器内部错误。", "Internal error."),
    ("error.home", "返回首页", "Back to the start page"),
    ("inc.number", "事件编号", "Incident"),
    ("inc.detail", "事件详情", "Incident detail"),
    ("inc.channel", "渠道", "Channel"),
    ("inc.level", "密级", "Level"),
    ("inc.person", "人员", "Person"),
    ("inc.object", "对象", "Object"),
    ("inc.action", "处置动作", "Action"),
    ("inc.rule", "规则", "Rule"),
    ("inc.disposition", "处理结论", "Disposition"),
    ("inc.assignee", "承办人", "Assignee"),
    ("inc.age", "已开启", "Open for"),
    ("inc.text", "对象名称或编号", "Object name or number"),
    ("inc.sort", "排序", "Sort"),
    ("inc.sort.newest", "最新在前", "Newest first"),
    ("inc.sort.oldest", "最早在前", "Oldest first"),
    ("inc.sort.severity", "按严重程度", "By severity"),
    ("inc.destination", "去向", "Destination"),
    ("inc.source", "来源", "Source"),
    ("inc.size", "大小", "Size"),
    ("inc.type", "真实类型", "True type"),
    ("inc.severity", "严重程度", "Severity"),
    ("inc.none", "没有符合条件的事件。", "No incidents match."),
    ("inc.bulk", "批量处理", "Bulk disposition"),
    ("inc.bulk.selected", "所选事件", "Selected incidents"),
    (
        "inc.bulk.filter",
        "当前筛选的全部事件",
        "Everything the filter matches",
    ),
    (
        "inc.bulk.confirm_title",
        "确认批量处理",
        "Confirm the bulk disposition",
    ),
    (
        "inc.bulk.confirm_text",
        "将把以下数量的事件设为",
        "This sets the disposition of this many incidents to",
    ),
    ("inc.bulk.done", "批量处理完成：", "Bulk disposition done:"),
    (
        "inc.bulk.nothing",
        "没有选中任何事件。",
        "Nothing was selected.",
    ),
    ("inc.views", "已保存的视图", "Saved views"),
    ("inc.view_name", "视图名称", "View name"),
    ("inc.save_view", "保存当前筛选", "Save this filter"),
    ("inc.delete_view", "删除", "Delete"),
    ("inc.findings", "检测发现", "Findings"),
    ("inc.finding.kind", "类型", "Kind"),
    ("inc.finding.part", "位置", "Where"),
    ("inc.finding.line", "行", "Line"),
    ("inc.finding.text", "内容", "Text"),
    ("inc.finding.reason", "依据", "Reason"),
    ("inc.finding.context", "上下文", "Context"),
    (
        "inc.context_note",
        "上下文来自加密留存的原始对象，个人信息已脱敏。",
        "Context comes from the encrypted evidence; personal data is masked.",
    ),
    (
        "inc.context_unmasked",
        "以下为未脱敏内容，查看原因已记入审计日志。",
        "Shown unmasked; your reason was recorded in the audit trail.",
    ),
    (
        "inc.no_evidence",
        "此事件没有留存证据，无法显示上下文。",
        "This incident has no evidence, so no context can be shown.",
    ),
    ("inc.tree", "对象结构", "Object tree"),
    ("inc.evidence", "证据", "Evidence"),
    (
        "inc.download",
        "下载原始对象（记入审计）",
        "Download the original (audited)",
    ),
    ("inc.unmask", "显示未脱敏内容", "Show unmasked"),
    ("inc.unmask_reason", "查看原因（必填）", "Reason (required)"),
    (
        "inc.unmask_reason_missing",
        "查看未脱敏内容必须填写原因。",
        "Showing unmasked values needs a reason.",
    ),
    ("inc.history", "处理记录", "History"),
    ("inc.comments", "意见", "Comments"),
    ("inc.comment", "添加意见", "Add a comment"),
    ("inc.assign", "指派", "Assign"),
    ("inc.assign_to", "承办人账户", "Assign to account"),
    ("inc.set_disposition", "处理结论", "Set disposition"),
    ("inc.note", "说明", "Note"),
    ("inc.quarantine", "隔离邮件", "Held mail"),
    ("inc.release", "放行邮件", "Release the mail"),
    ("inc.delete_mail", "删除邮件", "Delete the mail"),
    ("inc.quarantine_state", "隔离状态", "Held mail state"),
    ("inc.held", "隔离中", "held"),
    ("disp.open", "待处理", "Open"),
    ("disp.violation", "确认违规", "Violation"),
    ("disp.false_positive", "误报", "False positive"),
    ("disp.rectified", "已整改", "Rectified"),
    ("dash.title", "工作台", "Dashboard"),
    ("dash.total", "事件总数", "Incidents"),
    ("dash.open", "待处理", "Open"),
    ("dash.handled", "已处理", "Handled"),
    ("dash.by_day", "每日事件", "Incidents per day"),
    ("dash.by_level", "按密级", "By level"),
    ("dash.by_channel", "按渠道", "By channel"),
    ("dash.by_department", "按部门", "By department"),
    ("dash.by_rule", "按规则", "By rule"),
    ("dash.by_disposition", "处理情况", "Open vs handled"),
    ("dash.period", "统计区间", "Period"),
    (
        "dash.click",
        "点击图表可查看对应的事件。",
        "Click a chart to open the matching incidents.",
    ),
    ("policy.title", "当前策略", "Active policy"),
    ("policy.rules", "规则", "Rules"),
    ("policy.cond.people", "人员", "people"),
    ("policy.cond.departments", "部门", "departments"),
    ("policy.cond.groups", "用户组", "groups"),
    ("policy.cond.destinations", "发往", "to"),
    ("policy.cond.not_destinations", "发往以外", "not to"),
    ("policy.cond.attachments", "附件", "attachments"),
    ("policy.cond.hours", "时段", "hours"),
    ("policy.cond.days", "日期", "days"),
    ("policy.exceptions", "例外", "Exceptions"),
    ("policy.condition", "条件", "Conditions"),
    ("policy.hosts.cloud_drives", "网盘", "cloud drives"),
    ("policy.hosts.webmail", "网页邮箱", "webmail"),
    (
        "policy.hosts.forums",
        "论坛与社交平台",
        "forums and social sites",
    ),
    ("policy.hosts.internal", "本单位", "the unit's own"),
    ("policy.exception.reason", "理由", "Reason"),
    ("policy.exception.where", "适用范围", "Applies to"),
    ("policy.exception.at_most", "最多处理为", "At most"),
    ("policy.exception.expires", "有效期至", "Until"),
    ("policy.exception.expired", "已过期", "expired"),
    ("policy.source", "策略文件", "Policy text"),
    ("policy.test", "测试文件", "Test a file"),
    (
        "policy.test_note",
        "上传的文件只做检测，不产生事件，不留存；测试本身记入审计日志。",
        "The file is inspected only: no incident, nothing kept. The test itself is audited.",
    ),
    ("policy.test_file", "选择文件", "File"),
    ("policy.test_run", "检测", "Inspect"),
    ("policy.verdict", "判定", "Verdict"),
    (
        "policy.too_large",
        "文件超过测试上限",
        "The file is over the test limit of",
    ),
    ("policy.no_file", "请选择一个文件。", "Choose a file."),
    ("policy.no_findings", "未发现问题。", "Nothing found."),
    ("nav.policy_versions", "策略变更记录", "Policy changes"),
    ("pv.tab.current", "当前策略", "Active policy"),
    ("pv.tab.edit", "修改策略", "Edit"),
    ("pv.tab.versions", "版本历史", "Versions"),
    ("pv.title", "策略版本历史", "Policy versions"),
    ("pv.edit_title", "修改策略", "Edit the policy"),
    ("pv.version_title", "策略版本", "Policy version"),
    ("pv.diff_title", "策略版本比较", "Compare policy versions"),
    ("pv.in_force", "为当前生效版本", "is in force"),
    ("pv.saved_by", "保存人", "saved by"),
    ("pv.in_effect", "本节点已生效", "in effect on this node"),
    (
        "pv.loading",
        "本节点正在加载新版本，暂按此版本检测：",
        "loading on this node, still deciding with",
    ),
    ("pv.default", "内置默认策略", "Shipped default"),
    (
        "pv.default_note",
        "尚未保存过策略版本，正在使用系统内置的默认策略。",
        "No version stored yet: the shipped default policy applies.",
    ),
    (
        "pv.edit_note",
        "保存时按各节点的方式校验策略：有误的策略不会保存，并显示错误所在；通过校验后保存为新版本（记录保存人、时间和变更说明，记入审计日志），各节点在数秒内生效，无需重启。",
        "On saving, the text is checked as every node will read it: a policy with an error is not stored and the error is shown. A valid one becomes a new version (who, when, why; audited), which every node applies within seconds, without a restart.",
    ),
    ("pv.text", "策略内容（TOML）", "Policy (TOML)"),
    ("pv.based_on", "基于版本", "based on"),
    ("pv.comment", "变更说明", "Comment"),
    (
        "pv.comment_hint",
        "例如：增加向网盘发送内部资料的拦截规则",
        "e.g. block internal documents to cloud drives",
    ),
    (
        "pv.save",
        "校验并保存为新版本",
        "Check and save as a new version",
    ),
    ("pv.cancel", "取消", "Cancel"),
    (
        "pv.problem",
        "策略有误，未保存：",
        "The policy has an error and was not saved:",
    ),
    ("pv.original", "解析器原文：", "The parser says:"),
    ("pv.empty", "策略内容为空。", "The policy is empty."),
    (
        "pv.no_comment",
        "请填写变更说明。",
        "Say why in the comment.",
    ),
    (
        "pv.stale",
        "策略已被 {who} 于 {when} 保存为 v{v}。请打开“修改策略”，在最新版本的基础上重新修改。",
        "{who} saved the policy as v{v} at {when} meanwhile. Open Edit again and change the newest version.",
    ),
    (
        "pv.saved",
        "已保存为 v{v}，各节点将在数秒内生效。",
        "Saved as v{v}; every node applies it within seconds.",
    ),
    (
        "pv.unchanged",
        "内容与当前版本相同，未保存新版本。",
        "Same as the current version: nothing stored.",
    ),
    (
        "pv.none",
        "尚未保存过策略版本：正在使用系统内置的默认策略。",
        "No version stored yet: the shipped default applies.",
    ),
    ("pv.version", "版本", "Version"),
    ("pv.author", "保存人", "Saved by"),
    ("pv.when", "保存时间", "Saved"),
    ("pv.actions", "操作", "Actions"),
    ("pv.current", "当前生效", "in force"),
    ("pv.view", "查看", "View"),
    ("pv.diff_prev", "与上一版比较", "Compare with the previous"),
    (
        "pv.diff_current",
        "与当前版本比较",
        "Compare with the current",
    ),
    ("pv.back", "返回版本历史", "Back to the versions"),
    ("pv.from", "原版本", "From"),
    ("pv.to", "新版本", "To"),
    ("pv.compare", "比较", "Compare"),
    ("pv.lines", "行", "lines"),
    (
        "pv.same",
        "两个版本内容相同。",
        "The two versions are the same.",
    ),
    (
        "pv.hunk",
        "第 {a}–{b} 行（新版本）",
        "lines {a}–{b} (new version)",
    ),
    ("pv.hunk_removed", "删除的内容", "removed"),
    (
        "pv.diff_legend",
        "“+” 绿色为新版本增加的行，“−” 红色为删除的行，其余为上下文；左侧为原版本和新版本中的行号。",
        "“+” green: lines added in the new version; “−” red: lines removed; the rest is context. Line numbers of the old and the new version on the left.",
    ),
    (
        "pv.nothing_to_compare",
        "至少保存两个版本后才能比较。",
        "Compare needs two stored versions.",
    ),
    ("pv.by_cli", "命令行", "command line"),
    (
        "pv.by_file",
        "启动时从文件导入",
        "imported from a file at start",
    ),
    ("dict.title", "词库", "Term lists"),
    ("dict.version", "词库版本", "version"),
    (
        "dict.note",
        "各节点按这些词库检测敏感词，修改后数秒内生效。导入或更新词库请在服务器上执行：",
        "Every node matches these lists and applies a change within seconds. Import or update a list on the server:",
    ),
    ("dict.none", "尚未导入词库。", "No term lists stored."),
    ("dict.name", "名称", "Name"),
    ("dict.terms", "词条数", "Terms"),
    ("dict.updated", "更新时间", "Updated"),
    ("dict.author", "导入人", "By"),
    ("dict.sha", "内容指纹（SHA-256）", "Content (SHA-256)"),
    ("reg.title", "登记的涉密文件", "Registered secret documents"),
    (
        "reg.note",
        "登记后，系统能识别该文件的副本和摘录。仅保存指纹，不保存正文。新登记的文件在服务重启后对网关生效。",
        "Copies and excerpts of registered documents are recognised. Only fingerprints are kept, never the text. The gateway uses new registrations after a restart.",
    ),
    ("reg.id", "编号", "Id"),
    ("reg.doc_title", "标题", "Title"),
    ("reg.chars", "字数", "Characters"),
    ("reg.added", "登记时间", "Registered"),
    ("reg.source", "来源文件", "Source file"),
    ("reg.add", "登记文件", "Register a document"),
    (
        "reg.level_auto",
        "按文件中的密级标志",
        "From the document's marking",
    ),
    ("reg.remove", "移除", "Remove"),
    ("reg.none", "尚未登记文件。", "No documents registered yet."),
    (
        "reg.no_level",
        "文件中没有密级标志，请选择密级。",
        "The document has no marking: choose its level.",
    ),
    (
        "appr.title",
        "待审批的账户变更",
        "Account changes waiting for approval",
    ),
    (
        "appr.note",
        "系统管理员提出的账户新建、角色变更和密码重置，须由安全保密管理员审批后生效（双人控制）。",
        "Accounts, role changes and password resets proposed by the system administrator take effect only when a security officer approves them (two people).",
    ),
    ("appr.change", "变更内容", "Change"),
    ("appr.proposed_by", "提出人", "Proposed by"),
    ("appr.approve", "批准", "Approve"),
    ("appr.reject", "驳回", "Reject"),
    (
        "appr.none",
        "没有待审批的变更。",
        "Nothing waits for approval.",
    ),
    ("appr.new_account", "新建账户", "New account"),
    ("appr.role_change", "角色变更为", "Role change to"),
    ("appr.password_reset", "重置密码", "Password reset"),
    ("audit.title", "审计日志", "Audit trail"),
    ("audit.actor", "操作者", "Actor"),
    ("audit.action", "操作", "Action"),
    ("audit.subject", "对象", "Subject"),
    ("audit.detail", "详情", "Detail"),
    ("audit.seq", "序号", "No."),
    ("audit.verify", "校验审计链", "Verify the chain"),
    ("audit.export", "导出 CSV", "Export CSV"),
    ("audit.ok", "审计链完整：", "The audit chain is intact:"),
    (
        "audit.entries",
        "条记录，核对事件",
        "entries, incidents checked:",
    ),
    (
        "audit.broken",
        "审计链或事件记录被篡改：",
        "The audit chain or incidents were altered:",
    ),
    ("audit.problems", "处问题", "problem(s)"),
    ("acct.title", "账户", "Accounts"),
    ("acct.name", "用户名", "User name"),
    ("acct.display_name", "姓名", "Full name"),
    ("acct.role", "角色", "Role"),
    ("acct.last_login", "最近登录", "Last sign-in"),
    (
        "acct.propose",
        "新建账户（待审批）",
        "Propose an account (needs approval)",
    ),
    (
        "acct.initial_password",
        "初始密码（至少 10 位）",
        "Initial password (10 characters or more)",
    ),
    ("acct.disable", "停用", "Disable"),
    (
        "acct.reset",
        "重置密码（待审批）",
        "Reset password (needs approval)",
    ),
    (
        "acct.change_role",
        "变更角色（待审批）",
        "Change role (needs approval)",
    ),
    ("acct.pending", "待审批", "pending approval"),
    ("acct.locked", "已锁定", "locked"),
    (
        "acct.proposed",
        "已提交，等待安全保密管理员审批。",
        "Proposed: waits for a security officer's approval.",
    ),
    ("status.pending", "待审批", "Pending"),
    ("status.active", "正常", "Active"),
    ("status.disabled", "已停用", "Disabled"),
    ("status.rejected", "已驳回", "Rejected"),
    ("tok.title", "API 令牌", "API tokens"),
    (
        "tok.note",
        "令牌的密钥只在创建时显示一次，系统仅保存其散列值。scan 令牌只能提交检测（聊天网关、终端代理、扫描程序）。",
        "A token's secret is shown once, when it is created; only its hash is kept. scan tokens may only submit objects for inspection (chat gateways, agents, scanners).",
    ),
    ("tok.scope", "范围", "Scope"),
    ("tok.account", "代表账户", "Acts as"),
    ("tok.created", "创建时间", "Created"),
    ("tok.last_used", "最近使用", "Last used"),
    ("tok.create", "创建令牌", "Create a token"),
    ("tok.scan_only", "仅检测（scan）", "inspection only (scan)"),
    ("tok.revoke", "吊销", "Revoke"),
    ("tok.revoked", "已吊销", "revoked"),
    (
        "tok.secret",
        "新令牌（只显示这一次，请立即保存）：",
        "New token (shown only now: keep it safe):",
    ),
    ("tok.never", "从未", "never"),
    ("health.title", "节点状态", "Node health"),
    ("health.version", "版本", "Version"),
    ("health.node", "节点", "Node"),
    ("health.database", "数据库", "Database"),
    ("health.data_dir", "数据目录", "Data directory"),
    ("health.doors", "接入通道", "Doors"),
    ("health.uptime", "运行时间", "Up for"),
    ("health.ok", "正常", "ok"),
    ("health.off", "未启用", "off"),
    ("health.accounts", "账户数", "Accounts"),
    ("health.tokens", "有效令牌", "Live tokens"),
    (
        "health.icap",
        "ICAP 连接 / 放行 / 拦截",
        "ICAP connections / passed / blocked",
    ),
    ("health.nodes", "节点", "Nodes"),
    ("health.nodes_up", "在线", "up"),
    (
        "health.nodes_note",
        "共用同一数据库的各节点，每 5 秒发送一次心跳；15 秒内有心跳为在线。",
        "The nodes sharing this store send a heartbeat every 5 s; one heard of within 15 s is up.",
    ),
    (
        "health.current_versions",
        "数据库中的最新版本：",
        "Newest in the store: ",
    ),
    (
        "health.all_current",
        "在线节点均已使用最新版本",
        "every node up runs the newest versions",
    ),
    (
        "health.some_behind",
        "个在线节点版本落后",
        "node(s) up on older versions",
    ),
    (
        "health.no_nodes",
        "尚无节点心跳。",
        "No node has sent a heartbeat yet.",
    ),
    ("health.state", "状态", "State"),
    ("health.node_id", "节点标识", "Node"),
    ("health.address", "地址", "Address"),
    ("health.started", "启动时间", "Started"),
    ("health.seen", "最后心跳", "Last seen"),
    ("health.up", "在线", "up"),
    ("health.down", "离线", "down"),
    ("health.this", "本节点", "this node"),
    ("health.this_node", "本节点", "This node"),
    ("health.v_policy", "策略版本", "Policy"),
    ("health.v_dictionaries", "词库版本", "Term lists"),
    ("health.v_registry", "登记文件版本", "Registry"),
    (
        "health.behind",
        "版本落后于数据库：节点正在加载，或加载失败仍按旧版本检测（请查看该节点日志）。",
        "Behind the store: the node is loading it, or failed to and still decides with the last good one (see its log).",
    ),
    ("health.ago_s", "{n} 秒前", "{n} s ago"),
    ("health.ago_m", "{n} 分钟前", "{n} min ago"),
    ("health.ago_h", "{n} 小时前", "{n} h ago"),
    ("me.title", "我的账户", "My account"),
    ("me.change_password", "修改密码", "Change password"),
    ("me.current", "当前密码", "Current password"),
    (
        "me.new",
        "新密码（至少 10 位）",
        "New password (10 characters or more)",
    ),
    (
        "me.must_change",
        "您的密码由管理员设置，请先修改密码。",
        "Your password was set by an administrator: change it now.",
    ),
    ("me.totp", "双因素认证（TOTP）", "Two-factor sign-in (TOTP)"),
    ("me.totp_on", "已启用。", "On."),
    ("me.totp_off", "未启用。", "Off."),
    (
        "me.totp_begin",
        "启用双因素认证",
        "Turn on two-factor sign-in",
    ),
    (
        "me.totp_scan",
        "用身份验证器应用扫描二维码，或手工输入密钥，然后输入应用显示的 6 位验证码：",
        "Scan the QR code with an authenticator app, or type the key, then enter the 6-digit code it shows:",
    ),
    ("me.totp_confirm", "确认启用", "Confirm"),
    ("me.totp_wrong", "验证码不正确。", "Wrong code."),
    (
        "me.password_wrong",
        "当前密码不正确。",
        "The current password is wrong.",
    ),
    ("me.password_changed", "密码已修改。", "Password changed."),
    (
        "me.totp_enabled",
        "双因素认证已启用。",
        "Two-factor sign-in is on.",
    ),
    // Print jobs held for approval on the incident's page (issue 13).
    (
        "inc.print_held",
        "打印作业已暂停，待审批",
        "Print job held for approval",
    ),
    ("inc.print_machine", "所在计算机", "on computer"),
    ("inc.print_release", "批准打印", "Release the print job"),
    ("inc.print_cancel", "取消打印", "Cancel the print job"),
    (
        "inc.print_waiting",
        "待保密管理员决定：批准后由该计算机的终端代理恢复打印，取消则删除该作业。",
        "Waiting for a decision: released, the computer's agent resumes the job; canceled, it deletes it.",
    ),
    (
        "inc.print_release_sent",
        "已批准打印，等待该计算机的终端代理执行",
        "Released; waiting for the computer's agent",
    ),
    (
        "inc.print_cancel_sent",
        "已决定取消打印，等待该计算机的终端代理执行",
        "Cancel decided; waiting for the computer's agent",
    ),
    (
        "inc.print_released",
        "已批准，终端已恢复打印",
        "Released; the agent resumed the job",
    ),
    (
        "inc.print_canceled",
        "已取消，终端已删除该作业",
        "Canceled; the agent deleted the job",
    ),
    (
        "inc.print_failed",
        "终端代理未能执行该决定",
        "The agent could not carry the decision out",
    ),
    (
        "inc.print_decided",
        "已记录决定，终端代理下次联系服务器时执行。",
        "Decision recorded; the computer's agent carries it out when it next asks the server.",
    ),
];

fn table() -> &'static HashMap<&'static str, (&'static str, &'static str)> {
    static TABLE: OnceLock<HashMap<&'static str, (&'static str, &'static str)>> = OnceLock::new();
    TABLE.get_or_init(|| WORDS.iter().map(|(k, zh, en)| (*k, (*zh, *en))).collect())
}

/// The words of one language, handed to every template as `t`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    pub lang: Lang,
}

impl Tr {
    pub fn t(&self, key: &str) -> &'static str {
        match table().get(key) {
            Some((zh, en)) => match self.lang {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => {
                tracing::warn!("console: no words for {key:?}");
                "?"
            }
        }
    }

    pub fn is_zh(&self) -> bool {
        self.lang == Lang::Zh
    }

    /// A level's name (`secret` → 机密 / Secret).
    pub fn level(&self, level: &str) -> String {
        match baomi_core::Level::parse(level) {
            Some(l) if self.is_zh() => l.zh().to_owned(),
            Some(_) | None => level.replace('_', " "),
        }
    }

    pub fn channel(&self, channel: &str) -> &'static str {
        let (zh, en) = match channel {
            "web" => ("网页上传", "web"),
            "mail" => ("邮件", "mail"),
            "api" => ("接口", "API"),
            "scan" => ("自查扫描", "scan"),
            "publish" => ("发布审查", "publication review"),
            "chat" => ("聊天", "chat"),
            "usb" => ("移动介质", "USB"),
            "print" => ("打印", "print"),
            _ => ("其他", "other"),
        };
        if self.is_zh() { zh } else { en }
    }

    pub fn action(&self, action: &str) -> &'static str {
        let (zh, en) = match action {
            "allow" => ("放行", "allow"),
            "audit" => ("记录", "audit"),
            "alert" => ("告警", "alert"),
            "quarantine" => ("隔离", "quarantine"),
            "block" => ("拦截", "block"),
            _ => ("其他", "other"),
        };
        if self.is_zh() { zh } else { en }
    }

    pub fn severity(&self, severity: &str) -> &'static str {
        let (zh, en) = match severity {
            "critical" => ("严重", "critical"),
            "high" => ("高", "high"),
            "medium" => ("中", "medium"),
            "low" => ("低", "low"),
            _ => ("无", "none"),
        };
        if self.is_zh() { zh } else { en }
    }

    pub fn disposition(&self, d: &str) -> &'static str {
        self.t(match d {
            "violation" => "disp.violation",
            "false_positive" => "disp.false_positive",
            "rectified" => "disp.rectified",
            _ => "disp.open",
        })
    }

    pub fn role(&self, role: &str) -> &'static str {
        match baomi_store::Role::parse(role) {
            Some(r) if self.is_zh() => r.zh(),
            Some(r) => r.en(),
            None => "",
        }
    }

    pub fn status(&self, status: &str) -> &'static str {
        self.t(match status {
            "active" => "status.active",
            "disabled" => "status.disabled",
            "rejected" => "status.rejected",
            _ => "status.pending",
        })
    }

    /// A finding kind in words (`pii.resident_id` → 身份证号).
    pub fn kind(&self, kind: &str) -> &'static str {
        let (zh, en) = match kind {
            "marking" => ("密级标志", "marking"),
            "pii.resident_id" => ("身份证号", "resident ID"),
            "pii.mobile" => ("手机号", "mobile number"),
            "pii.phone" => ("固定电话", "landline"),
            "pii.bank_card" => ("银行卡号", "bank card"),
            "pii.uscc" => ("统一社会信用代码", "credit code"),
            "pii.passport" => ("护照号", "passport"),
            "pii.plate" => ("车牌号", "licence plate"),
            "pii.email" => ("电子邮箱", "e-mail"),
            "keyword" => ("敏感词", "keyword"),
            "regex" => ("自定义规则", "custom rule"),
            "fingerprint" => ("登记文件摘录", "registered document"),
            "encrypted" => ("加密内容", "encrypted"),
            "type_mismatch" => ("类型伪装", "type mismatch"),
            "limit" => ("超出限制", "limit"),
            "unreadable" => ("无法读取", "unreadable"),
            _ => ("其他", "other"),
        };
        if self.is_zh() { zh } else { en }
    }

    /// An audit action in words (`incident.disposition` → 事件处理结论), the code itself for
    /// actions without words.
    pub fn audit_action(&self, code: &str) -> String {
        let (zh, en) = match code {
            "incident.create" => ("记录事件", "incident recorded"),
            "incident.disposition" => ("事件处理结论", "disposition"),
            "incident.assign" => ("指派承办人", "assignment"),
            "incident.comment" => ("添加意见", "comment"),
            "evidence.download" => ("下载证据", "evidence download"),
            "evidence.unmask" => ("查看未脱敏内容", "unmasked view"),
            "quarantine.release" => ("放行隔离邮件", "held mail released"),
            "quarantine.delete" => ("删除隔离邮件", "held mail deleted"),
            "policy.test" => ("测试文件", "file tested"),
            "policy.set" => ("保存策略新版本", "policy version stored"),
            "dictionary.put" => ("导入词库", "term list stored"),
            "dictionary.remove" => ("删除词库", "term list removed"),
            "fingerprint.add" | "registry.put" => ("登记文件", "document registered"),
            "fingerprint.remove" | "registry.remove" => ("移除登记文件", "registration removed"),
            "account.create" => ("创建账户（服务器本机）", "account created (on the server)"),
            "account.propose" => ("提议新建账户", "account proposed"),
            "account.propose_role" => ("提议变更角色", "role change proposed"),
            "account.propose_password" => ("提议重置密码", "password reset proposed"),
            "account.approve" => ("批准账户变更", "account change approved"),
            "account.reject" => ("驳回账户变更", "account change rejected"),
            "account.disable" => ("停用账户", "account disabled"),
            "account.password" => ("设置密码", "password set"),
            "account.locked" => ("账户锁定", "account locked"),
            "account.totp_enable" => ("启用双因素认证", "two-factor on"),
            "account.auth" => ("变更登录方式（本地/LDAP）", "sign-in method changed"),
            "account.create_from_directory" => (
                "首次 LDAP 登录创建账户",
                "account created at its first LDAP sign-in",
            ),
            "account.role_from_directory" => {
                ("按目录角色组变更角色", "role taken from the directory")
            }
            "login.role_conflict" => (
                "多个角色组，拒绝登录",
                "sign-in refused: several role groups",
            ),
            "login" => ("登录", "sign-in"),
            "logout" => ("退出", "sign-out"),
            "login.failed" => ("登录失败", "failed sign-in"),
            "login.locked_out" => ("锁定期间尝试登录", "sign-in while locked"),
            "login.inactive" => ("未生效账户尝试登录", "sign-in of an inactive account"),
            "access.denied" => ("越权访问被拒绝", "access refused"),
            "access.cross_site" => ("跨站请求被拒绝", "cross-site request refused"),
            "token.create" => ("创建令牌", "token created"),
            "token.revoke" => ("吊销令牌", "token revoked"),
            "audit.verify" => ("校验审计链", "chain verified"),
            "audit.export" => ("导出审计日志", "trail exported"),
            "retention.purge" => ("按保存期限删除", "retention purge"),
            _ => return code.to_owned(),
        };
        (if self.is_zh() { zh } else { en }).to_owned()
    }

    /// A finding's reason in this language (see `baomi_core::reason`).
    pub fn reason(&self, reason: &str) -> String {
        match self.lang {
            Lang::Zh => baomi_core::reason::zh(reason),
            Lang::En => reason.to_owned(),
        }
    }
}
