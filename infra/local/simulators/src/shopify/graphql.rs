//! Just enough of GraphQL to answer the orders query: a field's arguments, read from
//! the query text, with `$variables` looked up in the request's `variables`.
//!
//! The simulator does not execute GraphQL. It finds a field by name (`orders`,
//! `lineItems`) and reads the arguments written after it, inline literals and
//! variables alike, so that `orders(first: $first, sortKey: UPDATED_AT)` and
//! `orders(first: 10 query: "updated_at:>=2026-03-02")` both read as the same map.
//! Enum values read as strings.

use serde_json::{Map, Value};

/// The arguments written after the first occurrence of `field` in the selection set of
/// `query` (as a whole word, outside strings and comments): `Ok(None)` when the field is not asked for,
/// `Ok(Some(empty))` when it is asked for without arguments, `Err` with the reason when
/// its arguments cannot be read.
pub fn field_arguments(
    query: &str,
    field: &str,
    variables: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, String> {
    let tokens = tokenize(query)?;
    // Fields live in the selection set: what comes before its `{` is the operation's
    // name and variable definitions.
    let selection = tokens
        .iter()
        .position(|token| token == &Token::Punct('{'))
        .unwrap_or(tokens.len());
    let Some(at) = tokens[selection..]
        .iter()
        .position(|token| matches!(token, Token::Name(name) if name == field))
        .map(|at| selection + at)
    else {
        return Ok(None);
    };
    let mut arguments = Map::new();
    if tokens.get(at + 1) != Some(&Token::Punct('(')) {
        return Ok(Some(arguments));
    }
    let mut rest = &tokens[at + 2..];
    loop {
        match rest {
            [Token::Punct(')'), ..] => return Ok(Some(arguments)),
            [Token::Name(name), Token::Punct(':'), tail @ ..] => {
                let (value, after) = read_value(tail, variables)?;
                arguments.insert(name.clone(), value);
                rest = after;
            }
            _ => return Err(format!("the arguments of `{field}` cannot be read")),
        }
    }
}

/// Whether the operation is a mutation or a subscription rather than a query.
pub fn is_query(query: &str) -> bool {
    let first = tokenize(query)
        .ok()
        .and_then(|tokens| tokens.into_iter().next());
    !matches!(first, Some(Token::Name(name)) if name == "mutation" || name == "subscription")
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Name(String),
    Variable(String),
    Text(String),
    Number(String),
    Punct(char),
}

fn tokenize(source: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() || c == ',' => {}
            '#' => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '"' => tokens.push(Token::Text(read_string(&mut chars)?)),
            '$' => tokens.push(Token::Variable(read_name(&mut chars, String::new()))),
            c if c.is_ascii_alphabetic() || c == '_' => {
                tokens.push(Token::Name(read_name(&mut chars, c.to_string())));
            }
            c if c.is_ascii_digit() || c == '-' => {
                let mut number = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_ascii_alphanumeric() || next == '.' || next == '+' || next == '-' {
                        number.push(next);
                        chars.next();
                    } else {
                        break;
                    }
                }
                tokens.push(Token::Number(number));
            }
            '.' => {}
            c => tokens.push(Token::Punct(c)),
        }
    }
    Ok(tokens)
}

fn read_name(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, mut name: String) -> String {
    while let Some(&next) = chars.peek() {
        if next.is_ascii_alphanumeric() || next == '_' {
            name.push(next);
            chars.next();
        } else {
            break;
        }
    }
    name
}

fn read_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, String> {
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(text),
            '\\' => match chars.next() {
                Some('n') => text.push('\n'),
                Some('t') => text.push('\t'),
                Some('u') => {
                    let code: String = chars.by_ref().take(4).collect();
                    let decoded = u32::from_str_radix(&code, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or_else(|| format!("\\u{code} is not a character"))?;
                    text.push(decoded);
                }
                Some(other) => text.push(other),
                None => break,
            },
            c => text.push(c),
        }
    }
    Err("a string in the query is not closed".to_owned())
}

/// One argument value and the tokens after it.
fn read_value<'t>(
    tokens: &'t [Token],
    variables: &Map<String, Value>,
) -> Result<(Value, &'t [Token]), String> {
    let (first, rest) = tokens
        .split_first()
        .ok_or_else(|| "the query ends inside an argument list".to_owned())?;
    let value = match first {
        Token::Variable(name) => variables.get(name).cloned().unwrap_or(Value::Null),
        Token::Text(text) => Value::String(text.clone()),
        Token::Number(number) => {
            serde_json::from_str(number).map_err(|_| format!("{number} is not a number"))?
        }
        Token::Name(name) => match name.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            "null" => Value::Null,
            enumeration => Value::String(enumeration.to_owned()),
        },
        Token::Punct(open @ ('[' | '{')) => {
            // Lists and input objects: not used by the orders query; skipped whole.
            let close = if *open == '[' { ']' } else { '}' };
            let mut depth = 1;
            let mut after = rest;
            while depth > 0 {
                let (token, tail) = after
                    .split_first()
                    .ok_or_else(|| format!("a {open} in the arguments is not closed"))?;
                match token {
                    Token::Punct(c) if c == open => depth += 1,
                    Token::Punct(c) if *c == close => depth -= 1,
                    _ => {}
                }
                after = tail;
            }
            return Ok((Value::Null, after));
        }
        Token::Punct(c) => return Err(format!("unexpected {c:?} in an argument list")),
    };
    Ok((value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const QUERY: &str = "query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) {
      orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
        pageInfo { hasNextPage endCursor }
        nodes { id lineItems(first: 50) { nodes { id } } }
      }
    }";

    fn variables(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn variables_and_enums_read_as_values() {
        let vars = variables(json!({"first": 10, "after": null, "query": "updated_at:>='x'"}));
        let arguments = field_arguments(QUERY, "orders", &vars).unwrap().unwrap();
        assert_eq!(
            Value::Object(arguments),
            json!({"first": 10, "after": null, "query": "updated_at:>='x'", "sortKey": "UPDATED_AT"})
        );
    }

    #[test]
    fn a_nested_connection_reads_its_own_arguments() {
        let arguments = field_arguments(QUERY, "lineItems", &Map::new())
            .unwrap()
            .unwrap();
        assert_eq!(arguments.get("first"), Some(&json!(50)));
    }

    #[test]
    fn inline_literals_without_commas_read_too() {
        let query = r#"{ orders(first: 3 reverse: true query: "created_at:>2026-01-01") { nodes { id } } }"#;
        let arguments = field_arguments(query, "orders", &Map::new())
            .unwrap()
            .unwrap();
        assert_eq!(
            Value::Object(arguments),
            json!({"first": 3, "reverse": true, "query": "created_at:>2026-01-01"})
        );
    }

    #[test]
    fn the_operation_name_is_not_the_field() {
        let query = "query orders { shop { name } }";
        assert_eq!(field_arguments(query, "orders", &Map::new()).unwrap(), None);
        let asked = "{ orders { nodes { id } } }";
        assert_eq!(
            field_arguments(asked, "orders", &Map::new()).unwrap(),
            Some(Map::new())
        );
        assert!(is_query(query));
        assert!(!is_query(
            "mutation { orderClose(input: {}) { userErrors { message } } }"
        ));
    }
}
