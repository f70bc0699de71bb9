-- 保密知识测试 (issue 15 §3): question banks imported from XLSX, knowledge tests ("quizzes",
-- so they are not confused with tests of the code) drawn from a bank, and each person's
-- attempts with the questions frozen at the drawing (their ids and the order the options
-- were shown in), the deadline, the answers and the score.

CREATE TABLE quiz_banks (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    created_by TEXT NOT NULL
);

CREATE TABLE quiz_questions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    bank_id     BIGINT NOT NULL REFERENCES quiz_banks (id),
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('single', 'multiple', 'true_false')),
    stem        TEXT NOT NULL,
    -- JSON array of the option texts, A first.
    options     TEXT NOT NULL,
    -- The right options' letters in order (`A`, `ABD`); a true/false question has the
    -- options 正确/错误, so `A` is true and `B` false.
    answer      TEXT NOT NULL,
    explanation TEXT,
    category    TEXT
);
CREATE INDEX quiz_questions_bank ON quiz_questions (bank_id, seq);

CREATE TABLE quizzes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL UNIQUE,
    bank_id      BIGINT NOT NULL REFERENCES quiz_banks (id),
    draw         BIGINT NOT NULL,
    time_limit_s BIGINT NOT NULL,
    pass_percent BIGINT NOT NULL,
    from_day     TEXT NOT NULL,
    to_day       TEXT NOT NULL,
    retakes      BIGINT NOT NULL,
    -- JSON array of department paths; empty: everyone.
    departments  TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    created_by   TEXT NOT NULL
);

CREATE TABLE quiz_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    quiz_id      BIGINT NOT NULL REFERENCES quizzes (id),
    account      TEXT NOT NULL,
    person       TEXT NOT NULL,
    department   TEXT,
    started_ms   BIGINT NOT NULL,
    deadline_ms  BIGINT NOT NULL,
    -- JSON: [{"id": question id, "order": [original option index, in the order shown]}]
    questions    TEXT NOT NULL,
    -- JSON: {"question id": "letters as shown"}, once submitted.
    answers      TEXT,
    submitted_ms BIGINT,
    state        TEXT NOT NULL CHECK (state IN ('open', 'submitted', 'timed_out')),
    correct      BIGINT,
    score        BIGINT,
    passed       BIGINT
);
CREATE INDEX quiz_attempts_quiz ON quiz_attempts (quiz_id, account);
CREATE INDEX quiz_attempts_account ON quiz_attempts (account);
