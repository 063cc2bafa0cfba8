//! The query languages users bring from other tools, as their standards define them: XPath 1.0
//! over EM's XML ([`XPath`]) and JSONPath as RFC 9535 has it ([`JsonPath`]). Scenarios name
//! them; the runner and the client check evaluate them.

mod jsonpath;
mod xpath;

pub use jsonpath::{JsonPath, string_value as json_string};
pub use xpath::{Found, Value as XPathValue, XPath};
