//! A one-page PDF shipping label, written by hand: a 4×6 inch page with a few lines
//! of Helvetica text. Small, but a valid PDF 1.4 file (correct cross-reference offsets)
//! that any viewer opens.

/// Label page size in points: 4 × 6 inches.
const PAGE_WIDTH: u32 = 288;
const PAGE_HEIGHT: u32 = 432;

/// A PDF whose single page shows `lines` from the top, the first one large.
pub fn label_pdf(lines: &[String]) -> Vec<u8> {
    let mut content = String::from("BT\n");
    let mut y = PAGE_HEIGHT - 48;
    for (index, line) in lines.iter().enumerate() {
        let size = if index == 0 { 16 } else { 11 };
        content.push_str(&format!(
            "/F1 {size} Tf 1 0 0 1 24 {y} Tm ({}) Tj\n",
            escape(line)
        ));
        y = y.saturating_sub(if index == 0 { 32 } else { 18 });
    }
    content.push_str("ET\n");

    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] \
             /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"
        ),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
            .to_owned(),
        format!(
            "<< /Length {} >>\nstream\n{content}endstream",
            content.len()
        ),
    ];

    // A binary comment on the second line tells tools the file is binary.
    let mut pdf: Vec<u8> = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (index, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref_at = pdf.len();
    // Each cross-reference entry is exactly 20 bytes, ending in space + newline.
    let mut xref = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        xref.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.extend_from_slice(xref.as_bytes());
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref_at}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// A PDF literal string's text: backslash and parentheses escaped, and anything
/// outside printable ASCII replaced (Helvetica's standard encoding has no other
/// characters this label needs).
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\\' | '(' | ')' => format!("\\{c}"),
            ' '..='~' => c.to_string(),
            _ => "?".to_owned(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks the structure a PDF reader relies on: header, trailer, and that every
    /// cross-reference offset points at its object.
    fn assert_valid_pdf(pdf: &[u8]) {
        assert!(pdf.starts_with(b"%PDF-1.4\n"));
        assert!(pdf.ends_with(b"%%EOF\n"));
        let marker = b"startxref\n";
        let at = pdf
            .windows(marker.len())
            .rposition(|w| w == marker)
            .expect("startxref");
        let tail = std::str::from_utf8(&pdf[at + marker.len()..]).unwrap();
        let startxref: usize = tail.lines().next().unwrap().parse().unwrap();
        let xref = std::str::from_utf8(&pdf[startxref..]).unwrap();
        assert!(xref.starts_with("xref\n"));
        for (index, entry) in xref.lines().skip(3).take(5).enumerate() {
            let offset: usize = entry[..10].parse().unwrap();
            let header = format!("{} 0 obj", index + 1);
            assert!(
                pdf[offset..].starts_with(header.as_bytes()),
                "object {}",
                index + 1
            );
        }
    }

    #[test]
    fn the_label_is_a_valid_pdf_with_its_text() {
        let pdf = label_pdf(&["Canada Post".to_owned(), "PIN 1234 (test)".to_owned()]);
        assert_valid_pdf(&pdf);
        let text = String::from_utf8_lossy(&pdf);
        assert!(text.contains("(PIN 1234 \\(test\\)) Tj"));
    }

    #[test]
    fn the_stream_length_matches_its_content() {
        let pdf = label_pdf(&["é".to_owned()]);
        let text = String::from_utf8_lossy(&pdf);
        let length: usize = text
            .split("/Length ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        let start = text.find("stream\n").unwrap() + "stream\n".len();
        let end = text.find("endstream").unwrap();
        assert_eq!(end - start, length);
    }
}
