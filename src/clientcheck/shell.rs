//! The socket side of the client check: answers requests (faults in place of steps, a failed
//! Task rewritten into its answer, the admin endpoints) around the checking core, which decides.

use super::result::ClientReport;
use super::{Checker, line};
use crate::em::{self, Repr};
use crate::http::server::{Handler, Reply, RequestProblem};
use crate::http::{Headers, Request, Response};
use crate::scenario::FaultKind;

impl Checker {
    /// The answer a fault gives instead of the recorded one.
    fn inject(&self, fault: FaultKind, req: &Request) -> Option<Reply> {
        let repr = Repr::from_accept(&req.headers);
        Some(match fault {
            FaultKind::Http500 => em::error(repr, 500, "Object reference not set to an instance of an object.").into(),
            FaultKind::Http503 => em::error(repr, 503, "The service is unavailable.").into(),
            FaultKind::SessionExpired => em::unauthorized(repr, "the session expired; log on again").into(),
            FaultKind::DropConnection => Reply::Drop,
            // The Task's answer is rewritten instead (`failed_task`).
            FaultKind::TaskFailed => return None,
        })
    }

    /// The checker's own endpoints: the report so far (`GET /__emtape/report`), the verdict
    /// once the client is done (`POST /__emtape/finish`: sessions still open end as the client
    /// exiting without logging out), `POST /__emtape/reset`; JSON, or the terminal's text to
    /// `Accept: text/plain`. The mock's own (coverage) beside them.
    fn admin(&self, req: &Request) -> Reply {
        let report = |r: ClientReport| {
            let plain = req.headers.get("accept").is_some_and(|a| a.contains("text/plain"));
            if plain {
                let text = crate::report::check::text(&r, crate::report::Style { colour: false, times: true });
                Response::new(200).header("Content-Type", "text/plain; charset=utf-8").body(text)
            } else {
                let body = serde_json::to_string_pretty(&r).unwrap_or_default();
                Response::new(200).header("Content-Type", "application/json").body(body)
            }
        };
        match (req.method.as_str(), req.path().trim_end_matches('/')) {
            ("GET", "/__emtape/report") => report(self.report()).into(),
            ("POST", "/__emtape/finish") => {
                self.client_exited();
                report(self.report()).into()
            }
            ("POST", "/__emtape/reset") => {
                self.reset();
                Response::new(204).into()
            }
            ("GET", "/__emtape/coverage") => self.mock.admin(req).into(),
            _ => Response::new(404)
                .header("Content-Type", "text/plain; charset=utf-8")
                .body(format!(
                    "{} is not an emtape admin endpoint; there are GET /__emtape/report, POST /__emtape/finish, \
                     POST /__emtape/reset and GET /__emtape/coverage\n",
                    line(req)
                ))
                .into(),
        }
    }
}

/// The answer body with the task failed: `Result Success="false"` and a failed RestoreSession,
/// in XML, and in JSON whether its keys are PascalCase or EM 13's camelCase.
fn failed_task(mut r: Response) -> Response {
    const MESSAGE: &str = "Restore failed: not enough free space on the datastore (fault injected by emtape)";
    let mut text = String::from_utf8_lossy(&r.body)
        .replace("Success=\"true\"", "Success=\"false\"")
        .replace("<Message>Ok</Message>", &format!("<Message>{MESSAGE}</Message>"))
        .replace("<Result>Success</Result>", "<Result>Failed</Result>");
    for (pascal, camel) in [("Success", "success"), ("Message", "message"), ("Result", "result")] {
        for key in [pascal, camel] {
            for colon in [": ", ":"] {
                let (from, to) = match pascal {
                    "Success" => (format!("\"{key}\"{colon}true"), format!("\"{key}\"{colon}false")),
                    "Message" => (format!("\"{key}\"{colon}\"Ok\""), format!("\"{key}\"{colon}\"{MESSAGE}\"")),
                    _ => (format!("\"{key}\"{colon}\"Success\""), format!("\"{key}\"{colon}\"Failed\"")),
                };
                text = text.replace(&from, &to);
            }
        }
    }
    r.body = text.into();
    r
}

impl Handler for Checker {
    async fn handle(&self, req: Request) -> Reply {
        if req.path().starts_with("/__emtape/") {
            return self.admin(&req);
        }
        let plan = self.plan(&req);
        if !plan.latency.is_zero() {
            tokio::time::sleep(plan.latency).await;
        }
        if let Some(fault) = plan.fault.filter(|f| *f != FaultKind::TaskFailed) {
            if let Some(reply) = self.inject(fault, &req) {
                let answered = match &reply {
                    Reply::Full(r) => Some(r.clone()),
                    _ => None,
                };
                self.account(&req, &plan, answered.as_ref());
                return reply;
            }
        }
        let mut response = self.mock.respond_with(&req, plan.pick);
        if plan.task_failed && plan.step.is_some_and(|k| Some(k) >= self.poll) {
            response = failed_task(response);
        }
        self.account(&req, &plan, Some(&response));
        response.into()
    }

    fn reject(&self, request_line: &str, problem: &RequestProblem) -> Response {
        self.mock.reject(request_line, problem)
    }

    fn panicked(&self, request_line: &str, headers: &Headers, why: &str) -> Response {
        self.mock.panicked(request_line, headers, why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_task_fails_in_xml_and_in_json_of_either_spelling() {
        let bodies = [
            r#"<Task><State>Finished</State><Result Success="true"><Message>Ok</Message></Result></Task>"#,
            r#"{"State": "Finished", "Result": {"Message": "Ok", "Success": true}}"#,
            r#"{"state": "Finished", "result": {"message": "Ok", "success": true}}"#,
        ];
        for body in bodies {
            let failed = failed_task(Response::new(200).body(body.to_owned()));
            let text = String::from_utf8_lossy(&failed.body).into_owned();
            assert!(!text.contains("true") && text.contains("false"), "{text}");
            assert!(text.contains("fault injected by emtape"), "{text}");
        }
    }
}
