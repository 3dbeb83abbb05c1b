//! A small builder for update and condition expressions with placeholder names and values,
//! so attribute names (which may be reserved words) and values never meet string formatting.

use super::{Item, Store, StoreError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, Update};
use std::collections::HashMap;

/// Collects `SET`, `ADD`, `REMOVE` and `DELETE` clauses and a condition.
#[derive(Debug, Default)]
pub(crate) struct Expr {
    sets: Vec<String>,
    adds: Vec<String>,
    removes: Vec<String>,
    deletes: Vec<String>,
    conditions: Vec<String>,
    names: HashMap<String, String>,
    values: Item,
}

impl Expr {
    pub fn new() -> Self {
        Self::default()
    }

    /// `#name` for an attribute.
    pub fn name(&mut self, attribute: &str) -> String {
        let base = format!(
            "#{}",
            attribute.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
        );
        // Names that differ only in other characters (`button_Sí`, `button_Sé`) get their own
        // placeholders.
        let mut placeholder = base.clone();
        let mut n = 0;
        while let Some(existing) = self.names.get(&placeholder) {
            if existing == attribute {
                return placeholder;
            }
            n += 1;
            placeholder = format!("{base}_{n}");
        }
        self.names.insert(placeholder.clone(), attribute.to_owned());
        placeholder
    }

    /// `:vN` for a value.
    pub fn value(&mut self, v: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), v);
        placeholder
    }

    /// `SET attribute = value`.
    pub fn set(&mut self, attribute: &str, v: AttributeValue) -> &mut Self {
        let (n, v) = (self.name(attribute), self.value(v));
        self.sets.push(format!("{n} = {v}"));
        self
    }

    /// `SET attribute = value` when `v` is `Some`.
    pub fn set_opt(&mut self, attribute: &str, v: Option<AttributeValue>) -> &mut Self {
        if let Some(v) = v {
            self.set(attribute, v);
        }
        self
    }

    /// `SET attribute = if_not_exists(attribute, value)`.
    pub fn set_if_absent(&mut self, attribute: &str, v: AttributeValue) -> &mut Self {
        let (n, v) = (self.name(attribute), self.value(v));
        self.sets.push(format!("{n} = if_not_exists({n}, {v})"));
        self
    }

    /// `ADD attribute value` (numbers and sets).
    pub fn add(&mut self, attribute: &str, v: AttributeValue) -> &mut Self {
        let (n, v) = (self.name(attribute), self.value(v));
        self.adds.push(format!("{n} {v}"));
        self
    }

    /// `REMOVE attribute`.
    pub fn remove(&mut self, attribute: &str) -> &mut Self {
        let n = self.name(attribute);
        self.removes.push(n);
        self
    }

    /// `DELETE attribute value` (remove elements from a set).
    pub fn delete(&mut self, attribute: &str, v: AttributeValue) -> &mut Self {
        let (n, v) = (self.name(attribute), self.value(v));
        self.deletes.push(format!("{n} {v}"));
        self
    }

    /// Adds a clause to the condition (clauses are ANDed). Use [`name`](Self::name) and
    /// [`value`](Self::value) for its placeholders.
    pub fn condition(&mut self, clause: impl Into<String>) -> &mut Self {
        self.conditions.push(format!("({})", clause.into()));
        self
    }

    /// The update expression.
    pub fn update_expression(&self) -> String {
        let mut parts = Vec::new();
        for (word, list) in [
            ("SET", &self.sets),
            ("ADD", &self.adds),
            ("REMOVE", &self.removes),
            ("DELETE", &self.deletes),
        ] {
            if !list.is_empty() {
                parts.push(format!("{word} {}", list.join(", ")));
            }
        }
        parts.join(" ")
    }

    /// The condition expression, if any.
    pub fn condition_expression(&self) -> Option<String> {
        (!self.conditions.is_empty()).then(|| self.conditions.join(" AND "))
    }

    /// Placeholder names (none when empty, which DynamoDB requires).
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    /// Placeholder values (none when empty, which DynamoDB requires).
    pub fn values(&self) -> Option<Item> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

impl Store {
    /// Sends one update. `Err(Conflict)` when its condition failed; the returned attributes
    /// when `returning` asks for them.
    pub(crate) async fn update(
        &self,
        key: Item,
        e: Expr,
        returning: Option<ReturnValue>,
    ) -> Result<Option<Item>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .set_return_values(returning)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes),
            Err(err) => match err.into_service_error() {
                UpdateItemError::ConditionalCheckFailedException(_) => Err(StoreError::Conflict),
                other => Err(StoreError::Dynamo(Box::new(other.into()))),
            },
        }
    }

    /// The same update as a transaction item.
    pub(crate) fn update_in_transaction(&self, key: Item, e: Expr) -> Result<Update, StoreError> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression(e.update_expression())
            .set_condition_expression(e.condition_expression())
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .build()
            .map_err(|_| StoreError::Refused("update could not be built"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_sanitise_alike_keep_their_own_placeholders() {
        let mut e = Expr::new();
        let (a, b) = (e.name("button_Sí"), e.name("button_Sé"));
        assert_ne!(a, b);
        assert_eq!(e.name("button_Sí"), a);
        let names = e.names().unwrap();
        assert_eq!(names[&a], "button_Sí");
        assert_eq!(names[&b], "button_Sé");
    }
    use crate::store::{n, s};

    #[test]
    fn builds_clauses_with_placeholders_only() {
        let mut e = Expr::new();
        e.set("status", s("PAUSED"))
            .add("reached_sent", n(1))
            .remove("gsi1pk");
        let v = e.name("version");
        let one = e.value(n(1));
        e.condition(format!("{v} = {one}"));
        assert_eq!(
            e.update_expression(),
            "SET #status = :v0 ADD #reached_sent :v1 REMOVE #gsi1pk"
        );
        assert_eq!(
            e.condition_expression().as_deref(),
            Some("(#version = :v2)")
        );
        assert_eq!(e.names().unwrap().len(), 4);
    }
}
