//! Self-inspection runs reported to the server (`baomi scan --report-to/--report-file`),
//! `baomi campaign …` and `baomi report …`: the records commands. Sending is a thin HTTP
//! client over the run report that `baomi-scan` writes; importing and the tables are the
//! server's own code (`baomi_server::records_api`, `baomi-records`), so a USB-carried run
//! is recorded exactly like one sent over the network.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use baomi_records::{Format, Scope};
use baomi_scan::run::{FORMAT, RunHeader, VERSION, new_run_id};
use baomi_server::ServerConfig;
use baomi_store::{NewCampaign, Store};
use clap::{Args, Subcommand};

use crate::admin::{console_actor, runtime};

/// The reporting options of `baomi scan`.
#[derive(Args, Debug, Default)]
pub struct ReportArgs {
    /// Send the run to this Baomi server (`https://baomi.example.cn:8080`); the findings
    /// only, masked, never the files' content (see --with-evidence).
    #[arg(long, value_name = "URL")]
    pub report_to: Option<String>,
    /// Write the run report here (default with --report-to: DATA_DIR/reports/…). It is kept
    /// when the server cannot be reached; `baomi campaign import FILE` loads it later.
    #[arg(long, value_name = "FILE")]
    pub report_file: Option<PathBuf>,
    /// API token (a `scan` token suffices); also signs the report file. Default: $BAOMI_TOKEN.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "BAOMI_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Who ran the self-inspection (default: the person the directory registers the machine to).
    #[arg(long, value_name = "NAME")]
    pub person: Option<String>,
    #[arg(long, value_name = "DEPARTMENT")]
    pub department: Option<String>,
    /// The machine's name (default: its host name).
    #[arg(long, value_name = "NAME")]
    pub machine: Option<String>,
    /// Also upload the files that block, as encrypted evidence (off by default: the file
    /// stays where it is).
    #[arg(long, requires = "report_to")]
    pub with_evidence: bool,
    /// Trust this CA certificate (PEM) for an https:// server with a private CA.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

impl ReportArgs {
    pub fn wanted(&self) -> bool {
        self.report_to.is_some() || self.report_file.is_some()
    }
}

pub fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

/// The run's header and where its report goes.
pub fn start(
    args: &ReportArgs,
    paths: &[PathBuf],
    data_dir: &Path,
) -> Result<(RunHeader, PathBuf, bool)> {
    let run_id = new_run_id().context("making a run id")?;
    let started_ms = baomi_store::now_ms();
    let header = RunHeader {
        format: FORMAT.into(),
        version: VERSION,
        run_id: run_id.clone(),
        person: args.person.clone(),
        department: args.department.clone(),
        machine: args.machine.clone().unwrap_or_else(hostname),
        started_ms,
        paths: paths
            .iter()
            .map(|p| {
                fs::canonicalize(p)
                    .unwrap_or_else(|_| p.clone())
                    .display()
                    .to_string()
            })
            .collect(),
        baomi_version: env!("CARGO_PKG_VERSION").into(),
    };
    let (path, default) = match &args.report_file {
        Some(p) => (p.clone(), false),
        None => {
            let dir = data_dir.join("reports");
            fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            let day = baomi_store::local_date(started_ms);
            (
                dir.join(format!("scan-{day}-{}.jsonl", &run_id[..12])),
                true,
            )
        }
    };
    Ok((header, path, default))
}

fn agent(args: &ReportArgs) -> Result<ureq::Agent> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(ca) = &args.ca_cert {
        let pem = fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let certs: Vec<ureq::tls::Certificate<'static>> = ureq::tls::parse_pem(&pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        if certs.is_empty() {
            bail!("{}: no certificate in it", ca.display());
        }
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    Ok(ureq::Agent::config_builder()
        .tls_config(tls.build())
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(3600)))
        .build()
        .into())
}

/// The server's answer as text: its `{"error": …}` when it has one.
fn answer_text(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(300).collect())
}

/// Send a finished run (and with `--with-evidence` its blocking files first). Never fails
/// the scan: whatever goes wrong is said on stderr, and the report file stays.
pub fn send(
    args: &ReportArgs,
    report: &Path,
    default_location: bool,
    blocking: &[(String, String)],
) {
    let Some(url) = &args.report_to else {
        eprintln!("baomi: 自查报告已保存：{}", report.display());
        return;
    };
    let keep = |why: String| {
        eprintln!(
            "baomi: 未能报送（{why}）。自查报告已保存在 {}，可在服务器上用 `baomi campaign import` 导入。",
            report.display()
        );
    };
    let Some(token) = &args.token else {
        keep("没有令牌：--token 或 BAOMI_TOKEN".into());
        return;
    };
    let agent = match agent(args) {
        Ok(a) => a,
        Err(e) => return keep(format!("{e:#}")),
    };
    let base = url.trim_end_matches('/');
    let auth = format!("Bearer {token}");
    if args.with_evidence {
        for (path, hash) in blocking {
            let file = match fs::File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("baomi: 证据 {path}: {e}");
                    continue;
                }
            };
            let sent = agent
                .post(format!("{base}/api/v1/scan-evidence/{hash}"))
                .header("Authorization", &auth)
                .content_type("application/octet-stream")
                .send(ureq::SendBody::from_owned_reader(file));
            match sent {
                Ok(r) if r.status().is_success() => {}
                Ok(mut r) => {
                    let body = r.body_mut().read_to_string().unwrap_or_default();
                    eprintln!("baomi: 证据 {path}: {} {}", r.status(), answer_text(&body));
                }
                Err(e) => return keep(format!("{e}")),
            }
        }
    }
    let file = match fs::File::open(report) {
        Ok(f) => f,
        Err(e) => return keep(format!("{e}")),
    };
    let sent = agent
        .post(format!("{base}/api/v1/scan-runs"))
        .header("Authorization", &auth)
        .content_type("application/x-ndjson")
        .send(ureq::SendBody::from_owned_reader(file));
    match sent {
        Ok(mut r) if r.status().is_success() => {
            let body = r.body_mut().read_to_string().unwrap_or_default();
            let v: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let n = v["incidents"].as_array().map_or(0, Vec::len);
            let already = v["already"].as_bool().unwrap_or(false);
            eprintln!(
                "baomi: 已报送 {url}{}，生成事件 {n} 件。",
                if already {
                    "（此前已报送过）"
                } else {
                    ""
                }
            );
            if default_location {
                let _ = fs::remove_file(report);
            }
        }
        Ok(mut r) => {
            let status = r.status();
            let body = r.body_mut().read_to_string().unwrap_or_default();
            keep(format!("服务器答复 {status}：{}", answer_text(&body)));
        }
        Err(e) => keep(format!("{e}")),
    }
}

#[derive(Subcommand)]
pub enum CampaignCommand {
    /// Load self-inspection report files (from `baomi scan --report-file`, carried on
    /// removable media from machines that never touch a network). Importing a run twice
    /// changes nothing; a truncated or edited file is refused whole.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Start a campaign: a name, a period and the departments it covers.
    Add {
        name: String,
        /// First day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// Last day, YYYY-MM-DD.
        #[arg(long)]
        to: String,
        /// A department in scope; repeatable (none: every department).
        #[arg(long = "department", value_name = "DEPARTMENT")]
        departments: Vec<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// List campaigns.
    List,
    /// Who has reported and who has not, per department.
    Show { name: String },
}

fn open(
    config: &ServerConfig,
    data_dir: &Path,
) -> impl Future<Output = Result<(Store, baomi_server::directory::Directory)>> {
    let url = config.database.url.clone();
    let dir_file = config.directory.file.clone();
    let data_dir = data_dir.to_owned();
    async move {
        let store = Store::open(&data_dir, url.as_deref()).await?;
        let directory = match &dir_file {
            Some(f) => baomi_server::directory::Directory::load(f)?,
            None => baomi_server::directory::Directory::default(),
        };
        Ok((store, directory))
    }
}

pub fn campaign(cmd: CampaignCommand, config: &ServerConfig, data_dir: &Path) -> Result<i32> {
    runtime()?.block_on(async {
        let (store, directory) = open(config, data_dir).await?;
        let actor = console_actor();
        match cmd {
            CampaignCommand::Import { files } => {
                let mut failed = 0;
                for f in files {
                    let read = fs::File::open(&f)
                        .map_err(anyhow::Error::from)
                        .and_then(|file| Ok(baomi_scan::run::Run::read(file)?));
                    let run = match read {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("{}: 拒绝导入：{e:#}", f.display());
                            failed += 1;
                            continue;
                        }
                    };
                    let (machine, person) = (run.header.machine.clone(), run.header.person.clone());
                    match baomi_server::records_api::import_run(
                        &store, &directory, run, "import", &actor,
                    )
                    .await
                    {
                        Ok(o) if o.already => {
                            println!("{}: 已导入过（运行 {}），未作改动", f.display(), o.run_id)
                        }
                        Ok(o) => println!(
                            "{}: 已导入 运行 {}（计算机 {machine}，{}）：事件 {} 件",
                            f.display(),
                            o.run_id,
                            person.as_deref().unwrap_or("未署名"),
                            o.incidents.len()
                        ),
                        Err(e) => {
                            eprintln!("{}: 拒绝导入：{e}", f.display());
                            failed += 1;
                        }
                    }
                }
                Ok(if failed > 0 { 2 } else { 0 })
            }
            CampaignCommand::Add {
                name,
                from,
                to,
                departments,
                note,
            } => {
                let c = store
                    .create_campaign(
                        &NewCampaign {
                            name,
                            from_day: from,
                            to_day: to,
                            departments,
                            note,
                        },
                        &actor,
                    )
                    .await?;
                println!(
                    "campaign {} ({}): {} – {}",
                    c.name, c.id, c.from_day, c.to_day
                );
                Ok(0)
            }
            CampaignCommand::List => {
                for c in store.campaigns().await? {
                    let scope = if c.departments.is_empty() {
                        "全部部门".to_owned()
                    } else {
                        c.departments.join("、")
                    };
                    println!(
                        "{}\t{}\t{} 至 {}\t{scope}",
                        c.id, c.name, c.from_day, c.to_day
                    );
                }
                Ok(0)
            }
            CampaignCommand::Show { name } => {
                let members = baomi_server::records_api::members(&directory);
                let cov = baomi_records::coverage::coverage(&store, &name, &members).await?;
                println!(
                    "{}（{} 至 {}）：已报送 {} 人，名册 {} 人",
                    cov.campaign.name,
                    cov.campaign.from_day,
                    cov.campaign.to_day,
                    cov.people_reported,
                    cov.people_expected
                );
                for d in &cov.departments {
                    let reported: Vec<String> = d
                        .reported
                        .iter()
                        .map(|r| format!("{}（{}）", r.person, r.machines.join("、")))
                        .collect();
                    println!(
                        "  {}：已报送 {}；未报送 {}{}；检查文件 {}，告警 {}",
                        d.department,
                        if reported.is_empty() {
                            "无".into()
                        } else {
                            reported.join("，")
                        },
                        if d.missing.is_empty() {
                            "无".into()
                        } else {
                            d.missing.join("、")
                        },
                        if d.missing_machines.is_empty() {
                            String::new()
                        } else {
                            format!("；未报送计算机 {}", d.missing_machines.join("、"))
                        },
                        d.files,
                        d.alerting
                    );
                }
                Ok(0)
            }
        }
    })
}

#[derive(Subcommand)]
pub enum ReportCommand {
    /// 自查自纠情况统计表 for a campaign or a period.
    SelfInspection {
        #[arg(long)]
        campaign: Option<String>,
        /// First day, YYYY-MM-DD (default: the first of this month).
        #[arg(long, conflicts_with = "campaign")]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (default: today).
        #[arg(long, conflicts_with = "campaign")]
        to: Option<String>,
        /// csv, xlsx or pdf.
        #[arg(long, default_value = "xlsx")]
        format: String,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// A clue report (违规问题线索和存在隐患报告表) as DOCX or PDF.
    Clue {
        id: i64,
        #[arg(long, default_value = "docx")]
        format: String,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

pub fn report(cmd: ReportCommand, config: &ServerConfig, data_dir: &Path) -> Result<i32> {
    runtime()?.block_on(async {
        let (store, directory) = open(config, data_dir).await?;
        let (bytes, output) = match cmd {
            ReportCommand::SelfInspection {
                campaign,
                from,
                to,
                format,
                output,
            } => {
                let f = Format::parse(&format)
                    .filter(|f| *f != Format::Docx)
                    .with_context(|| format!("format {format:?}: csv, xlsx or pdf"))?;
                let scope = match campaign {
                    Some(c) => Scope::Campaign(c),
                    None => match baomi_server::records_api::scope_from(
                        None,
                        from.as_deref(),
                        to.as_deref(),
                    ) {
                        Ok(s) => s,
                        Err(e) => bail!("{}", e.1),
                    },
                };
                let members = baomi_server::records_api::members(&directory);
                let table = baomi_records::self_inspection(&store, &scope, &members).await?;
                (baomi_records::render_table(&table, f)?, output)
            }
            ReportCommand::Clue { id, format, output } => {
                let r = store.clue_report(id).await?;
                let bytes = match format.as_str() {
                    "docx" => baomi_records::docx::clue_report(&r)?,
                    "pdf" => baomi_records::pdf::clue_report(&r)?,
                    other => bail!("format {other:?}: docx or pdf"),
                };
                (bytes, output)
            }
        };
        fs::write(&output, bytes).with_context(|| format!("writing {}", output.display()))?;
        eprintln!("baomi: {}", output.display());
        Ok(0)
    })
}

#[derive(Subcommand)]
pub enum LedgerCommand {
    /// Load an office's existing ledger table (XLSX; columns found by their headers:
    /// 编号, 类型, 名称型号/文件标题, 序列号, 密级, 份数/份号, 来源, 责任人, 使用部门, 启用日期, 状态).
    /// Every row is checked first; nothing is recorded when any is wrong.
    Import { file: PathBuf },
    /// Write the ledger as XLSX.
    Export {
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// List the carriers.
    List,
}

pub fn ledger(cmd: LedgerCommand, config: &ServerConfig, data_dir: &Path) -> Result<i32> {
    runtime()?.block_on(async {
        let (store, _) = open(config, data_dir).await?;
        match cmd {
            LedgerCommand::Import { file } => {
                let bytes =
                    fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                match baomi_server::records_api::import_ledger(&store, &bytes, &console_actor())
                    .await
                {
                    Ok(n) => {
                        println!("{}: 已导入 {n} 条", file.display());
                        Ok(0)
                    }
                    Err(e) => {
                        eprintln!("{}: 拒绝导入：{}", file.display(), e.1);
                        Ok(2)
                    }
                }
            }
            LedgerCommand::Export { output } => {
                let rows: Vec<_> = store
                    .carriers()
                    .await?
                    .into_iter()
                    .map(|c| (c, None))
                    .collect();
                let bytes = baomi_records::ledger::export_xlsx(&rows)?;
                fs::write(&output, bytes)
                    .with_context(|| format!("writing {}", output.display()))?;
                eprintln!("baomi: {} ({} 条)", output.display(), rows.len());
                Ok(0)
            }
            LedgerCommand::List => {
                for c in store.carriers().await? {
                    let f = &c.fields;
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        f.number,
                        f.kind.zh(),
                        f.name,
                        f.level,
                        f.responsible,
                        c.state.zh()
                    );
                }
                Ok(0)
            }
        }
    })
}
