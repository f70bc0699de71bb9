-- 工作人员 (staff): every employee gets an account to sign secrecy commitments and take the
-- knowledge tests.
ALTER TABLE accounts DROP CONSTRAINT accounts_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_role_check
    CHECK (role IN ('sysadmin', 'secadmin', 'auditor', 'drafter', 'reviewer', 'director', 'approver', 'staff'));
ALTER TABLE accounts DROP CONSTRAINT accounts_pending_role_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_pending_role_check
    CHECK (pending_role IS NULL OR pending_role IN ('sysadmin', 'secadmin', 'auditor', 'drafter', 'reviewer', 'director', 'approver', 'staff'));
