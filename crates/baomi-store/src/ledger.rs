//! 台账: the ledger of classified carriers — computers, removable media, documents — with the
//! life of each: registered → issued (发放/流转) → returned (清退) → issued again …, and at the
//! end destroyed (销毁, with a second person) or archived (归档). Every change is an event with
//! who and when, and an entry in the audit chain.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::{Result, Store, StoreError, now_ms};

/// 类型
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierKind {
    /// 计算机
    Computer,
    /// 移动存储介质
    Removable,
    /// 纸质文件
    Document,
    /// 光盘
    Optical,
    /// 其他
    Other,
}

impl CarrierKind {
    pub const ALL: [CarrierKind; 5] = [
        CarrierKind::Computer,
        CarrierKind::Removable,
        CarrierKind::Document,
        CarrierKind::Optical,
        CarrierKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CarrierKind::Computer => "computer",
            CarrierKind::Removable => "removable",
            CarrierKind::Document => "document",
            CarrierKind::Optical => "optical",
            CarrierKind::Other => "other",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            CarrierKind::Computer => "计算机",
            CarrierKind::Removable => "移动存储介质",
            CarrierKind::Document => "纸质文件",
            CarrierKind::Optical => "光盘",
            CarrierKind::Other => "其他",
        }
    }

    /// By its contract name or the Chinese word an office table uses (also 文件, U盘, 移动硬盘).
    pub fn parse(s: &str) -> Option<CarrierKind> {
        let s = s.trim();
        CarrierKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.zh() == s)
            .or(match s {
                "文件" | "涉密文件" | "公文" => Some(CarrierKind::Document),
                "U盘" | "u盘" | "移动硬盘" | "存储介质" | "介质" => {
                    Some(CarrierKind::Removable)
                }
                "笔记本" | "笔记本电脑" | "台式机" | "涉密计算机" => {
                    Some(CarrierKind::Computer)
                }
                _ => None,
            })
    }
}

/// 状态, and the event that leads to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CarrierState {
    /// 在册 (登记)
    Registered,
    /// 在用/借出 (发放、流转)
    Issued,
    /// 清退 (归还)
    Returned,
    /// 销毁
    Destroyed,
    /// 归档
    Archived,
}

impl CarrierState {
    pub const ALL: [CarrierState; 5] = [
        CarrierState::Registered,
        CarrierState::Issued,
        CarrierState::Returned,
        CarrierState::Destroyed,
        CarrierState::Archived,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CarrierState::Registered => "registered",
            CarrierState::Issued => "issued",
            CarrierState::Returned => "returned",
            CarrierState::Destroyed => "destroyed",
            CarrierState::Archived => "archived",
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            CarrierState::Registered => "在册",
            CarrierState::Issued => "在用",
            CarrierState::Returned => "清退",
            CarrierState::Destroyed => "销毁",
            CarrierState::Archived => "归档",
        }
    }

    /// The event that leads to the state, as the ledger's history says it.
    pub fn event_zh(self) -> &'static str {
        match self {
            CarrierState::Registered => "登记",
            CarrierState::Issued => "发放",
            CarrierState::Returned => "清退交回",
            CarrierState::Destroyed => "销毁",
            CarrierState::Archived => "归档",
        }
    }

    pub fn parse(s: &str) -> Option<CarrierState> {
        let s = s.trim();
        CarrierState::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.zh() == s)
            .or(match s {
                "登记" | "" => Some(CarrierState::Registered),
                "借出" | "发放" | "流转" | "使用" => Some(CarrierState::Issued),
                "归还" | "收回" => Some(CarrierState::Returned),
                _ => None,
            })
    }

    /// Whether an event may move a carrier from `self` to `to`. Destroyed and archived
    /// carriers are final; a carrier out with someone comes back before it is destroyed.
    pub fn can_become(self, to: CarrierState) -> bool {
        use CarrierState::*;
        matches!(
            (self, to),
            (Registered | Returned, Issued)
                | (Issued, Issued)
                | (Issued, Returned)
                | (Registered | Returned, Destroyed | Archived)
        )
    }
}

/// A carrier as it is registered (or imported from an office's table).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NewCarrier {
    /// 编号
    pub number: String,
    pub kind: CarrierKind,
    /// 名称型号 or 文件标题
    pub name: String,
    /// 序列号 (removable media: what the endpoint agent reads)
    #[serde(default)]
    pub serial: Option<String>,
    /// 密级 (`secret`, `机密`, …)
    pub level: String,
    /// 份数/份号
    #[serde(default)]
    pub copies: Option<String>,
    /// 来源
    #[serde(default)]
    pub source: Option<String>,
    /// 责任人
    pub responsible: String,
    /// 使用部门
    #[serde(default)]
    pub department: Option<String>,
    /// 启用日期, `YYYY-MM-DD`
    #[serde(default)]
    pub since_day: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Carrier {
    pub id: i64,
    #[serde(flatten)]
    pub fields: NewCarrier,
    pub state: CarrierState,
    /// The fingerprint registry entry made from this document, when one was.
    pub fingerprint_id: Option<String>,
    pub created_ms: i64,
    pub created_by: String,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CarrierEvent {
    pub event: CarrierState,
    pub ts_ms: i64,
    pub actor: String,
    /// Who has it now (issued), who gave it back (returned).
    pub holder: Option<String>,
    /// The second person of a destruction.
    pub witness: Option<String>,
    pub note: Option<String>,
}

const SELECT_CARRIER: &str = "SELECT id, number, kind, name, serial, level, copies, source, \
     responsible, department, since_day, state, fingerprint_id, created_ms, created_by, updated_ms \
     FROM carriers";

fn carrier_from_row(r: &AnyRow) -> Result<Carrier> {
    let kind: String = r.try_get("kind")?;
    let state: String = r.try_get("state")?;
    Ok(Carrier {
        id: r.try_get("id")?,
        fields: NewCarrier {
            number: r.try_get("number")?,
            kind: CarrierKind::parse(&kind).unwrap_or(CarrierKind::Other),
            name: r.try_get("name")?,
            serial: r.try_get("serial")?,
            level: r.try_get("level")?,
            copies: r.try_get("copies")?,
            source: r.try_get("source")?,
            responsible: r.try_get("responsible")?,
            department: r.try_get("department")?,
            since_day: r.try_get("since_day")?,
        },
        state: CarrierState::parse(&state).unwrap_or(CarrierState::Registered),
        fingerprint_id: r.try_get("fingerprint_id")?,
        created_ms: r.try_get("created_ms")?,
        created_by: r.try_get("created_by")?,
        updated_ms: r.try_get("updated_ms")?,
    })
}

fn clean(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

impl Store {
    /// Register a carrier (state 在册, or the state an imported table gives).
    pub async fn register_carrier(
        &self,
        new: &NewCarrier,
        state: CarrierState,
        actor: &str,
    ) -> Result<Carrier> {
        let number = new.number.trim();
        if number.is_empty() || number.chars().count() > 100 {
            return Err(StoreError::Invalid("编号: 1 to 100 characters".into()));
        }
        if new.name.trim().is_empty() || new.responsible.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "{number}: 名称 and 责任人 are required"
            )));
        }
        if new.level.trim().is_empty() {
            return Err(StoreError::Invalid(format!("{number}: 密级 is required")));
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let taken = sqlx::query("SELECT 1 FROM carriers WHERE number = $1")
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?;
        if taken.is_some() {
            return Err(StoreError::Conflict(format!(
                "a carrier numbered {number} is in the ledger"
            )));
        }
        let row = sqlx::query(
            "INSERT INTO carriers (number, kind, name, serial, level, copies, source, responsible, \
             department, since_day, state, created_ms, created_by, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $12) RETURNING id",
        )
        .bind(number)
        .bind(new.kind.as_str())
        .bind(new.name.trim())
        .bind(clean(&new.serial))
        .bind(new.level.trim())
        .bind(clean(&new.copies))
        .bind(clean(&new.source))
        .bind(new.responsible.trim())
        .bind(clean(&new.department))
        .bind(clean(&new.since_day))
        .bind(state.as_str())
        .bind(now)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?;
        let id: i64 = row.try_get(0)?;
        sqlx::query(
            "INSERT INTO carrier_events (carrier_id, event, ts_ms, actor, holder) \
             VALUES ($1, 'registered', $2, $3, $4)",
        )
        .bind(id)
        .bind(now)
        .bind(actor)
        .bind(new.responsible.trim())
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "carrier.register",
            number,
            &json!({"kind": new.kind.as_str(), "level": new.level, "state": state.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(self.carrier(number).await?.0)
    }

    /// A change of hands or the end of a carrier. A destruction needs a `witness` other
    /// than the person recording it (`recorder`: the names that person goes by — account
    /// name, display name).
    #[allow(clippy::too_many_arguments)]
    pub async fn carrier_event(
        &self,
        number: &str,
        to: CarrierState,
        holder: Option<&str>,
        witness: Option<&str>,
        note: Option<&str>,
        recorder: &[&str],
        actor: &str,
    ) -> Result<Carrier> {
        let (current, _) = self.carrier(number).await?;
        if to == CarrierState::Registered || !current.state.can_become(to) {
            return Err(StoreError::Conflict(format!(
                "{number} is {} ({}); it cannot become {} ({})",
                current.state.zh(),
                current.state.as_str(),
                to.zh(),
                to.as_str()
            )));
        }
        let holder = holder.map(str::trim).filter(|h| !h.is_empty());
        let witness = witness.map(str::trim).filter(|h| !h.is_empty());
        if to == CarrierState::Issued && holder.is_none() {
            return Err(StoreError::Invalid(format!(
                "{number}: to whom is it issued?"
            )));
        }
        if to == CarrierState::Destroyed {
            let actor_name = actor.split_once(':').map_or(actor, |(_, n)| n);
            match witness {
                None => {
                    return Err(StoreError::Invalid(format!(
                        "{number}: a destruction needs a second person (witness)"
                    )));
                }
                Some(w) if w == actor_name || w == actor || recorder.contains(&w) => {
                    return Err(StoreError::Invalid(format!(
                        "{number}: the witness of a destruction must be someone else"
                    )));
                }
                Some(_) => {}
            }
        }
        let now = now_ms();
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query(
            "UPDATE carriers SET state = $1, updated_ms = $2 WHERE id = $3 AND state = $4",
        )
        .bind(to.as_str())
        .bind(now)
        .bind(current.id)
        .bind(current.state.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!("{number} changed meanwhile")));
        }
        sqlx::query(
            "INSERT INTO carrier_events (carrier_id, event, ts_ms, actor, holder, witness, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(current.id)
        .bind(to.as_str())
        .bind(now)
        .bind(actor)
        .bind(holder)
        .bind(witness)
        .bind(note)
        .execute(&mut *tx)
        .await?;
        Store::append_audit(
            &mut tx,
            actor,
            "carrier.event",
            number,
            &json!({"from": current.state.as_str(), "to": to.as_str(), "holder": holder,
                    "witness": witness}),
        )
        .await?;
        tx.commit().await?;
        Ok(self.carrier(number).await?.0)
    }

    /// Note that a document carrier was sent to the fingerprint registry.
    pub async fn set_carrier_fingerprint(
        &self,
        number: &str,
        fingerprint_id: &str,
        actor: &str,
    ) -> Result<()> {
        let (_guard, mut tx) = self.audit_tx().await?;
        let done = sqlx::query("UPDATE carriers SET fingerprint_id = $1 WHERE number = $2")
            .bind(fingerprint_id)
            .bind(number)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("carrier {number}")));
        }
        Store::append_audit(
            &mut tx,
            actor,
            "carrier.fingerprint",
            number,
            &json!({"id": fingerprint_id}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A carrier and its history, oldest event first.
    pub async fn carrier(&self, number: &str) -> Result<(Carrier, Vec<CarrierEvent>)> {
        let row = sqlx::query(AssertSqlSafe(format!("{SELECT_CARRIER} WHERE number = $1")))
            .bind(number)
            .fetch_optional(self.pool())
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("carrier {number}")))?;
        let c = carrier_from_row(&row)?;
        let rows = sqlx::query(
            "SELECT event, ts_ms, actor, holder, witness, note FROM carrier_events \
             WHERE carrier_id = $1 ORDER BY ts_ms, id",
        )
        .bind(c.id)
        .fetch_all(self.pool())
        .await?;
        let mut events = Vec::new();
        for r in rows {
            let e: String = r.try_get("event")?;
            events.push(CarrierEvent {
                event: CarrierState::parse(&e).unwrap_or(CarrierState::Registered),
                ts_ms: r.try_get("ts_ms")?,
                actor: r.try_get("actor")?,
                holder: r.try_get("holder")?,
                witness: r.try_get("witness")?,
                note: r.try_get("note")?,
            });
        }
        Ok((c, events))
    }

    /// The ledger, in number order.
    pub async fn carriers(&self) -> Result<Vec<Carrier>> {
        let rows = sqlx::query(AssertSqlSafe(format!("{SELECT_CARRIER} ORDER BY number")))
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(carrier_from_row).collect()
    }

    /// The carrier with a serial number (what the endpoint agent reads from a USB stick),
    /// compared without regard to ASCII case (tables are typed by hand).
    pub async fn carrier_by_serial(&self, serial: &str) -> Result<Option<Carrier>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "{SELECT_CARRIER} WHERE UPPER(serial) = UPPER($1) ORDER BY id DESC"
        )))
        .bind(serial.trim())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(carrier_from_row).transpose()
    }
}
