//! Knowledge tests (保密知识测试) against both backends: a bank imported whole (a bad question
//! rejects it with its place and keeps nothing), quizzes checked when set, the drawing (N of
//! the bank, different per person, options shuffled but true/false kept 正确/错误), scoring
//! of single, multiple (all right options and no other) and true/false questions from the
//! letters as shown, a submission after the time limit refused and recorded 超时未交 with
//! score 0, retakes up to the limit, the audience, the audit entries.

use std::collections::BTreeMap;

use baomi_store::quizzes::{TRUE_FALSE, percent};
use baomi_store::testing::TempPostgres;
use baomi_store::{
    Attempt, AttemptState, NewQuestion, NewQuiz, QuestionKind, Store, StoreError, Taker,
};

fn q(kind: QuestionKind, stem: &str, options: &[&str], answer: &str) -> NewQuestion {
    NewQuestion {
        kind,
        stem: stem.into(),
        options: options.iter().map(|s| s.to_string()).collect(),
        answer: answer.into(),
        explanation: Some(format!("{stem}的解析")),
        category: Some("保密法".into()),
    }
}

fn bank() -> Vec<NewQuestion> {
    vec![
        q(
            QuestionKind::Single,
            "国家秘密的密级分为几级？",
            &["两级", "三级", "四级"],
            "B",
        ),
        q(
            QuestionKind::Multiple,
            "下列哪些行为违反保密规定？",
            &[
                "涉密计算机连接互联网",
                "在内网处理涉密文件",
                "用微信传送涉密文件",
                "私自复制涉密文件",
            ],
            "ACD",
        ),
        q(
            QuestionKind::TrueFalse,
            "涉密文件可以通过普通邮件传递。",
            &TRUE_FALSE,
            "B",
        ),
        q(
            QuestionKind::Single,
            "绝密级国家秘密的保密期限一般不超过多少年？",
            &["10年", "20年", "30年", "长期"],
            "C",
        ),
    ]
}

fn taker(account: &str, department: &str) -> Taker {
    Taker {
        account: account.into(),
        person: format!("{account}本人"),
        department: Some(department.into()),
    }
}

fn today() -> String {
    baomi_store::local_date(baomi_store::now_ms())
}

fn quiz(bank_id: i64, name: &str, draw: i64, limit: i64, retakes: i64) -> NewQuiz {
    NewQuiz {
        name: name.into(),
        bank_id,
        draw,
        time_limit_seconds: limit,
        pass_percent: 60,
        from_day: today(),
        to_day: today(),
        retakes,
        departments: vec![],
    }
}

/// The right letters (as shown) for every question of an attempt, found by the stems'
/// answers in the bank: what a person who knows the answers picks.
fn right_answers(a: &Attempt, bank: &[NewQuestion]) -> BTreeMap<i64, String> {
    a.questions
        .iter()
        .map(|aq| {
            let b = bank.iter().find(|b| b.stem == aq.stem).unwrap();
            let right: Vec<&String> = b
                .answer
                .chars()
                .map(|c| &b.options[(c as u8 - b'A') as usize])
                .collect();
            let letters: String = aq
                .options
                .iter()
                .enumerate()
                .filter(|(_, o)| right.contains(o))
                .map(|(i, _)| (b'A' + i as u8) as char)
                .collect();
            (aq.id, letters)
        })
        .collect()
}

fn wrong(a: &Attempt, bank: &[NewQuestion], stem: &str) -> BTreeMap<i64, String> {
    let mut m = right_answers(a, bank);
    if let Some(aq) = a.questions.iter().find(|q| q.stem == stem) {
        let right = m[&aq.id].clone();
        // One option that is not right (a multiple-choice: only one of the right ones).
        let other = match aq.kind {
            QuestionKind::Multiple => right[..1].to_owned(),
            _ => ["A", "B"]
                .iter()
                .find(|l| **l != right)
                .unwrap()
                .to_string(),
        };
        m.insert(aq.id, other);
    }
    m
}

async fn exercise(store: &Store) {
    // A bank with one bad question is refused whole.
    let mut bad = bank();
    bad[2].answer = "C".into();
    match store.import_quiz_bank("坏题库", &bad, "user:officer").await {
        Err(StoreError::Invalid(m)) => {
            assert!(m.contains("question 3") && m.contains("答案 C"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let mut bad = bank();
    bad[0].stem = "  ".into();
    assert!(matches!(
        store.import_quiz_bank("坏题库", &bad, "user:officer").await,
        Err(StoreError::Invalid(m)) if m.contains("question 1") && m.contains("题目")
    ));
    assert!(
        store.quiz_banks().await.unwrap().is_empty(),
        "nothing imported"
    );

    let b = store
        .import_quiz_bank("2026年保密知识题库", &bank(), "user:officer")
        .await
        .unwrap();
    assert_eq!(
        (b.questions, b.single, b.multiple, b.true_false),
        (4, 2, 1, 1)
    );
    assert!(matches!(
        store
            .import_quiz_bank("2026年保密知识题库", &bank(), "user:officer")
            .await,
        Err(StoreError::Conflict(_))
    ));
    let (_, qs) = store.quiz_bank(b.id).await.unwrap();
    assert_eq!(qs.len(), 4);
    assert_eq!(qs[1].fields.answer, "ACD");

    // Quizzes are checked when set.
    let mut too_many = quiz(b.id, "抽5题", 5, 600, 0);
    assert!(matches!(store.create_quiz(&too_many, "user:officer").await,
        Err(StoreError::Invalid(m)) if m.contains("has 4 questions")));
    too_many.draw = 3;
    too_many.pass_percent = 120;
    assert!(matches!(
        store.create_quiz(&too_many, "user:officer").await,
        Err(StoreError::Invalid(_))
    ));
    let mut backwards = quiz(b.id, "倒序", 3, 600, 0);
    backwards.from_day = "2026-12-31".into();
    backwards.to_day = "2026-01-01".into();
    assert!(store.create_quiz(&backwards, "user:officer").await.is_err());

    // Every question drawn, one retake.
    let all = store
        .create_quiz(&quiz(b.id, "全员测试", 4, 600, 1), "user:officer")
        .await
        .unwrap();
    assert_eq!(all.attempts_allowed(), 2);

    // Zhang knows everything: 100, passed.
    let zhang = taker("zhang", "局/办公室");
    let a = store.start_quiz_attempt(all.id, &zhang).await.unwrap();
    assert_eq!(a.questions.len(), 4);
    assert_eq!(a.state, AttemptState::Open);
    assert!(
        a.questions
            .iter()
            .all(|q| q.answer.is_none() && q.explanation.is_none()),
        "no answers while the attempt runs"
    );
    let tf = a
        .questions
        .iter()
        .find(|q| q.kind == QuestionKind::TrueFalse)
        .unwrap();
    assert_eq!(tf.options, TRUE_FALSE, "true/false keeps its order");
    // Starting again while it runs gives the same attempt.
    assert_eq!(
        store.start_quiz_attempt(all.id, &zhang).await.unwrap().id,
        a.id
    );
    // Answers outside what was shown are refused, nothing recorded.
    let single = a
        .questions
        .iter()
        .find(|q| q.kind == QuestionKind::Single)
        .unwrap();
    let mut odd = BTreeMap::new();
    odd.insert(single.id, "AB".to_owned());
    assert!(matches!(
        store.submit_quiz_attempt(a.id, "zhang", &odd).await,
        Err(StoreError::Invalid(m)) if m.contains("one option")
    ));
    odd.insert(single.id, "F".to_owned());
    assert!(
        store
            .submit_quiz_attempt(a.id, "zhang", &odd)
            .await
            .is_err()
    );
    let mut foreign = BTreeMap::new();
    foreign.insert(99_999, "A".to_owned());
    assert!(
        store
            .submit_quiz_attempt(a.id, "zhang", &foreign)
            .await
            .is_err()
    );
    // Someone else cannot submit it.
    assert!(matches!(
        store
            .submit_quiz_attempt(a.id, "li", &right_answers(&a, &bank()))
            .await,
        Err(StoreError::NotFound(_))
    ));
    let done = store
        .submit_quiz_attempt(a.id, "zhang", &right_answers(&a, &bank()))
        .await
        .unwrap();
    assert_eq!(
        (done.state, done.correct, done.score, done.passed),
        (AttemptState::Submitted, Some(4), Some(100), Some(true))
    );
    assert!(
        done.questions
            .iter()
            .all(|q| q.right == Some(true) && q.answer.is_some())
    );
    assert!(
        done.questions[0]
            .explanation
            .as_deref()
            .unwrap()
            .contains("的解析")
    );
    // A second submission of the same attempt is refused.
    assert!(matches!(
        store
            .submit_quiz_attempt(a.id, "zhang", &right_answers(&a, &bank()))
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Li: the multiple-choice question half right (no credit) and the true/false wrong → 50,
    // failed; the retake with everything right → 100; no third attempt.
    let li = taker("li", "局/财务处");
    let a1 = store.start_quiz_attempt(all.id, &li).await.unwrap();
    let mut answers = wrong(&a1, &bank(), "下列哪些行为违反保密规定？");
    let tf = a1
        .questions
        .iter()
        .find(|q| q.kind == QuestionKind::TrueFalse)
        .unwrap();
    answers.insert(tf.id, "A".into());
    let r1 = store
        .submit_quiz_attempt(a1.id, "li", &answers)
        .await
        .unwrap();
    assert_eq!(
        (r1.correct, r1.score, r1.passed),
        (Some(2), Some(50), Some(false))
    );
    let mq = r1
        .questions
        .iter()
        .find(|q| q.kind == QuestionKind::Multiple)
        .unwrap();
    assert_eq!(mq.right, Some(false));
    assert_eq!(mq.answer.as_ref().unwrap().len(), 3);
    let a2 = store.start_quiz_attempt(all.id, &li).await.unwrap();
    assert_ne!(a2.id, a1.id);
    let r2 = store
        .submit_quiz_attempt(a2.id, "li", &right_answers(&a2, &bank()))
        .await
        .unwrap();
    assert_eq!(r2.score, Some(100));
    assert!(matches!(
        store.start_quiz_attempt(all.id, &li).await,
        Err(StoreError::Conflict(m)) if m.contains("2 attempts")
    ));
    // The best attempt counts: the records read both and take the best.
    let lis = store.quiz_attempts(Some(all.id), Some("li")).await.unwrap();
    assert_eq!(lis.len(), 2);
    assert_eq!(lis.iter().filter_map(|a| a.score).max(), Some(100));

    // Drawing: 2 of 4, different questions or orders between people (20 people: the chance
    // all draw the same is nil), always distinct questions.
    let two = store
        .create_quiz(&quiz(b.id, "抽两题", 2, 600, 0), "user:officer")
        .await
        .unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for i in 0..20 {
        let a = store
            .start_quiz_attempt(two.id, &taker(&format!("p{i}"), "局"))
            .await
            .unwrap();
        assert_eq!(a.questions.len(), 2);
        assert_ne!(a.questions[0].id, a.questions[1].id);
        seen.insert(
            a.questions
                .iter()
                .map(|q| format!("{}:{}", q.id, q.options.join("|")))
                .collect::<Vec<_>>()
                .join(","),
        );
    }
    assert!(seen.len() > 3, "the drawing differs: {seen:?}");

    // The audience: a quiz for 局/办公室 covers its sub-departments only.
    let mut office = quiz(b.id, "办公室测试", 1, 600, 0);
    office.departments = vec!["局/办公室".into()];
    let office = store.create_quiz(&office, "user:officer").await.unwrap();
    assert!(
        store
            .start_quiz_attempt(office.id, &taker("wang", "局/办公室/保密科"))
            .await
            .is_ok()
    );
    assert!(matches!(
        store
            .start_quiz_attempt(office.id, &taker("zhao", "局/财务处"))
            .await,
        Err(StoreError::Refused(_))
    ));
    // Outside the window.
    let mut later = quiz(b.id, "下月测试", 1, 600, 0);
    later.from_day = "2099-01-01".into();
    later.to_day = "2099-01-31".into();
    let later = store.create_quiz(&later, "user:officer").await.unwrap();
    assert!(matches!(
        store.start_quiz_attempt(later.id, &zhang).await,
        Err(StoreError::Conflict(m)) if m.contains("2099-01-01")
    ));

    // The time limit: 1 s (grace: 1 s). Late by more than that: refused, 超时未交, 0.
    let short = store
        .create_quiz(&quiz(b.id, "限时一秒", 4, 1, 1), "user:officer")
        .await
        .unwrap();
    let a = store.start_quiz_attempt(short.id, &zhang).await.unwrap();
    assert_eq!(a.deadline_ms - a.started_ms, 1000);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    match store
        .submit_quiz_attempt(a.id, "zhang", &right_answers(&a, &bank()))
        .await
    {
        Err(StoreError::Conflict(m)) => assert!(m.contains("超时未交"), "{m}"),
        other => panic!("a late submission: {other:?}"),
    }
    let late = store.quiz_attempt(a.id).await.unwrap();
    assert_eq!(
        (late.state, late.score, late.passed, late.submitted_ms),
        (AttemptState::TimedOut, Some(0), Some(false), None)
    );
    // An attempt left open past its time is closed the same way when anything looks.
    let b2 = store.start_quiz_attempt(short.id, &zhang).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    let mine = store
        .quiz_attempts(Some(short.id), Some("zhang"))
        .await
        .unwrap();
    assert!(
        mine.iter().all(|a| a.state == AttemptState::TimedOut),
        "{mine:?}"
    );
    assert_eq!(mine[0].id, b2.id);
    // Both attempts are used.
    assert!(store.start_quiz_attempt(short.id, &zhang).await.is_err());

    // The audit chain has the import, the quizzes, every score and the timeouts.
    let trail = store.audit_tail(500).await.unwrap();
    let count = |action: &str| trail.iter().filter(|e| e.action == action).count();
    assert_eq!(count("quiz.bank_import"), 1);
    assert_eq!(count("quiz.create"), 5);
    assert_eq!(count("quiz.submit"), 3);
    assert_eq!(count("quiz.timed_out"), 2);
    let li_first = trail
        .iter()
        .find(|e| e.action == "quiz.submit" && e.detail["score"] == 50)
        .unwrap();
    assert_eq!(li_first.detail["account"], "li", "{}", li_first.detail);
    assert!(store.verify_audit().await.unwrap().ok());
    assert_eq!(percent(7, 9), 78);
}

#[tokio::test]
async fn quizzes_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), None).await.unwrap();
    exercise(&store).await;
}

#[tokio::test]
async fn quizzes_postgres() {
    let pg = TempPostgres::start().expect("a PostgreSQL server for the test");
    let dir = tempfile::tempdir().unwrap();
    exercise(&pg.open_store(dir.path()).await).await;
}
