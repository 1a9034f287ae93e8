//! A scripted [`Sts`] for unit tests: answers in the order they were scripted, and records every
//! call (which action, signed with which access key id, with which code).

use std::cell::RefCell;
use std::collections::VecDeque;

use time::OffsetDateTime;

use super::{AssumeRole, GetSessionToken, Sts, StsError};
use crate::credentials::{BaseCredentials, Credentials, Secret};

/// One call as STS would have seen it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// `GetSessionToken` or `AssumeRole`.
    pub action: &'static str,
    /// The access key id the request was signed with.
    pub caller: String,
    /// The MFA code it carried.
    pub code: Option<String>,
    /// `AssumeRole`'s role.
    pub role_arn: Option<String>,
}

#[derive(Default)]
pub struct FakeSts {
    answers: RefCell<VecDeque<Result<Credentials, StsError>>>,
    prepare_error: RefCell<Option<StsError>>,
    connect_error: RefCell<Option<StsError>>,
    connects: RefCell<Vec<&'static str>>,
    calls: RefCell<Vec<Call>>,
}

impl FakeSts {
    pub fn new() -> FakeSts {
        FakeSts::default()
    }

    /// The next call is answered with credentials `access_key_id`, expiring at `expiration`.
    pub fn issue(&self, access_key_id: &str, expiration: OffsetDateTime) -> &FakeSts {
        self.answers.borrow_mut().push_back(Ok(issued(access_key_id, expiration)));
        self
    }

    /// The next call fails with `error`.
    pub fn fail(&self, error: StsError) -> &FakeSts {
        self.answers.borrow_mut().push_back(Err(error));
        self
    }

    /// [`Sts::prepare`] fails with `error` (once).
    pub fn fail_prepare(&self, error: StsError) {
        *self.prepare_error.borrow_mut() = Some(error);
    }

    /// The connection opened ahead of a code fails with `error`.
    pub fn fail_connect(&self, error: StsError) {
        *self.connect_error.borrow_mut() = Some(error);
    }

    /// The action each [`Sts::connect_ahead`] was for.
    pub fn connects(&self) -> Vec<&'static str> {
        self.connects.borrow().clone()
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    /// Scripted answers not used.
    pub fn unused(&self) -> usize {
        self.answers.borrow().len()
    }

    fn answer(&self, call: Call) -> Result<Credentials, StsError> {
        let answer = self.answers.borrow_mut().pop_front();
        let answer = answer.unwrap_or_else(|| panic!("an STS call the test did not script: {call:?}"));
        self.calls.borrow_mut().push(call);
        answer
    }
}

/// Temporary credentials as STS issues them.
pub fn issued(access_key_id: &str, expiration: OffsetDateTime) -> Credentials {
    Credentials {
        access_key_id: access_key_id.into(),
        secret_access_key: Secret::new(format!("secret-of-{access_key_id}")),
        session_token: Secret::new(format!("token-of-{access_key_id}")),
        expiration,
        account_id: None,
        arn: None,
    }
}

impl Sts for FakeSts {
    fn prepare(&self) -> Result<(), StsError> {
        self.prepare_error.borrow_mut().take().map_or(Ok(()), Err)
    }

    fn connect_ahead(&self, action: &'static str) {
        self.connects.borrow_mut().push(action);
    }

    fn connected(&self, _wait: std::time::Duration) -> Result<(), StsError> {
        self.connect_error.borrow_mut().take().map_or(Ok(()), Err)
    }

    fn get_session_token(&self, caller: &BaseCredentials, req: &GetSessionToken<'_>) -> Result<Credentials, StsError> {
        self.answer(Call {
            action: "GetSessionToken",
            caller: caller.access_key_id.clone(),
            code: Some(req.token_code.expose_secret().to_string()),
            role_arn: None,
        })
    }

    fn assume_role(&self, caller: &BaseCredentials, req: &AssumeRole<'_>) -> Result<Credentials, StsError> {
        self.answer(Call {
            action: "AssumeRole",
            caller: caller.access_key_id.clone(),
            code: req.mfa.map(|(_, code)| code.expose_secret().to_string()),
            role_arn: Some(req.role_arn.to_string()),
        })
    }
}
