//! `multipart/form-data` bodies (RFC 7578) as M12 receives them, read strictly: a body
//! a real multipart parser would reject is refused here too, so that a client which
//! gets the framing wrong finds out locally and not in production.
//!
//! Mirakl runs on Spring; its refusals of a malformed M12 are Spring's multipart errors
//! wrapped in Mirakl's JSON error body (`{"status": 400, "message": …}`), which is what
//! [`FormData::parse`] names.

/// One part of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormPart<'a> {
    /// The `name` of its `Content-Disposition: form-data`.
    pub name: String,
    /// The `filename`, for a file part.
    pub filename: Option<String>,
    /// Its own `Content-Type`, when it has one.
    pub content_type: Option<String>,
    /// Its content, without the CRLF that precedes the next delimiter.
    pub content: &'a [u8],
}

/// A parsed `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormData<'a> {
    /// The parts, in order.
    pub parts: Vec<FormPart<'a>>,
}

impl<'a> FormData<'a> {
    /// Parses `body` sent with the request's `content_type`.
    ///
    /// # Errors
    /// The reason, worded as the service words it: not a multipart request, no
    /// boundary, a part without `Content-Disposition: form-data; name=…`, or a body
    /// that ends before its closing delimiter.
    pub fn parse(content_type: &str, body: &'a [u8]) -> Result<Self, String> {
        let (mime, params) = content_type.split_once(';').unwrap_or((content_type, ""));
        if !mime.trim().eq_ignore_ascii_case("multipart/form-data") {
            return Err("Current request is not a multipart request".to_owned());
        }
        let boundary = parameter(params, "boundary")
            .filter(|b| !b.is_empty() && b.len() <= 70)
            .ok_or_else(|| {
                "Failed to parse multipart servlet request: the request was rejected because \
                 no multipart boundary was found"
                    .to_owned()
            })?;
        let stream_ended =
            || "Failed to parse multipart servlet request: Stream ended unexpectedly".to_owned();
        let delimiter = format!("--{boundary}");
        let first = find(body, delimiter.as_bytes()).ok_or_else(stream_ended)?;
        let mut rest = &body[first + delimiter.len()..];
        let next_delimiter = format!("\r\n--{boundary}");
        let mut parts = Vec::new();
        loop {
            if rest.starts_with(b"--") {
                return Ok(Self { parts });
            }
            rest = rest.strip_prefix(b"\r\n").ok_or_else(stream_ended)?;
            let end = find(rest, next_delimiter.as_bytes()).ok_or_else(stream_ended)?;
            parts.push(part(&rest[..end])?);
            rest = &rest[end + next_delimiter.len()..];
        }
    }

    /// The first part named `name`.
    pub fn part(&self, name: &str) -> Option<&FormPart<'a>> {
        self.parts.iter().find(|part| part.name == name)
    }

    /// Every part named `name`.
    pub fn parts_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s FormPart<'a>> {
        self.parts.iter().filter(move |part| part.name == name)
    }
}

fn part(raw: &[u8]) -> Result<FormPart<'_>, String> {
    let headers_end = find(raw, b"\r\n\r\n").ok_or_else(|| {
        "Failed to parse multipart servlet request: a part has no header section".to_owned()
    })?;
    let headers = String::from_utf8_lossy(&raw[..headers_end]);
    let mut disposition = None;
    let mut content_type = None;
    for line in headers.split("\r\n") {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("content-disposition") {
            disposition = Some(value.trim().to_owned());
        } else if name.trim().eq_ignore_ascii_case("content-type") {
            content_type = Some(value.trim().to_owned());
        }
    }
    let disposition = disposition
        .filter(|d| {
            d.split(';')
                .next()
                .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("form-data"))
        })
        .ok_or_else(|| {
            "Failed to parse multipart servlet request: a part has no Content-Disposition: \
             form-data header"
                .to_owned()
        })?;
    let params = disposition.split_once(';').map_or("", |(_, params)| params);
    let name = parameter(params, "name").ok_or_else(|| {
        "Failed to parse multipart servlet request: a part has no name".to_owned()
    })?;
    Ok(FormPart {
        name: name.to_owned(),
        filename: parameter(params, "filename").map(str::to_owned),
        content_type,
        content: &raw[headers_end + 4..],
    })
}

/// A `key=value` or `key="value"` parameter of a header, by its exact key.
fn parameter<'h>(params: &'h str, key: &str) -> Option<&'h str> {
    params.split(';').find_map(|param| {
        let (k, v) = param.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"'))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT_TYPE: &str = "multipart/form-data; boundary=XyZ";

    #[test]
    fn parts_are_read_with_their_names_types_and_content() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.txt\"\r\n\r\nhello\r\n--XyZ\r\nContent-Disposition: form-data; name=\"message_input\"\r\nContent-Type: application/json\r\n\r\n{\"body\":\"Hi\"}\r\n--XyZ--\r\n";
        let form = FormData::parse(CONTENT_TYPE, body).unwrap();
        let input = form.part("message_input").unwrap();
        assert_eq!(input.content, b"{\"body\":\"Hi\"}");
        assert_eq!(input.content_type.as_deref(), Some("application/json"));
        let file = form.part("files").unwrap();
        assert_eq!(file.filename.as_deref(), Some("a.txt"));
        assert_eq!(file.content, b"hello");
    }

    #[test]
    fn a_filename_is_not_taken_for_a_name() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"files\"; filename=\"message_input\"\r\n\r\nx\r\n--XyZ--";
        let form = FormData::parse(CONTENT_TYPE, body).unwrap();
        assert!(form.part("message_input").is_none());
    }

    #[test]
    fn a_json_body_is_not_a_multipart_request() {
        let refused = FormData::parse("application/json", b"{}").unwrap_err();
        assert_eq!(refused, "Current request is not a multipart request");
    }

    #[test]
    fn a_body_without_its_closing_delimiter_ended_unexpectedly() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"message_input\"\r\n\r\n{}";
        let refused = FormData::parse(CONTENT_TYPE, body).unwrap_err();
        assert!(refused.contains("Stream ended unexpectedly"), "{refused}");
    }

    #[test]
    fn a_missing_boundary_is_refused() {
        let refused = FormData::parse("multipart/form-data", b"--XyZ--").unwrap_err();
        assert!(refused.contains("no multipart boundary"), "{refused}");
    }

    #[test]
    fn a_part_without_a_name_is_refused() {
        let body = b"--XyZ\r\nContent-Type: application/json\r\n\r\n{}\r\n--XyZ--";
        assert!(FormData::parse(CONTENT_TYPE, body).is_err());
    }
}
