//! The table's keys and indexes, read from the SAM template as it is deployed (no copy of it
//! here): a new index or a changed projection changes what the model bills.

use serde_yaml_ng::Value;
use std::path::Path;

/// Which attributes an index copies from the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Projection {
    /// Only the table's and the index's keys.
    KeysOnly,
    /// The keys and these attributes.
    Include(Vec<String>),
    /// Every attribute.
    All,
}

/// A global (or local) secondary index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    pub name: String,
    pub partition_key: String,
    pub sort_key: Option<String>,
    pub projection: Projection,
}

/// A table's key schema and its indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSchema {
    /// The resource's logical id in the template.
    pub logical_id: String,
    pub partition_key: String,
    pub sort_key: Option<String>,
    pub indexes: Vec<Index>,
}

#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("reading the template: {0}")]
    Read(#[from] std::io::Error),
    #[error("parsing the template: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("the template has no AWS::DynamoDB::Table resource {0}")]
    NoTable(String),
    #[error("table {0}: {1}")]
    Malformed(String, &'static str),
}

impl TableSchema {
    /// The table `logical_id` of the template at `path`.
    pub fn from_template(path: &Path, logical_id: &str) -> Result<Self, SchemaError> {
        Self::from_yaml(&std::fs::read_to_string(path)?, logical_id)
    }

    /// The table `logical_id` of a template's text. CloudFormation's short tags (`!Ref`,
    /// `!Sub`) parse as tagged values, which the key schema and projections never use.
    pub fn from_yaml(text: &str, logical_id: &str) -> Result<Self, SchemaError> {
        let template: Value = serde_yaml_ng::from_str(text)?;
        let resource = &template["Resources"][logical_id];
        if resource["Type"].as_str() != Some("AWS::DynamoDB::Table") {
            return Err(SchemaError::NoTable(logical_id.to_owned()));
        }
        let properties = &resource["Properties"];
        let malformed = |why| SchemaError::Malformed(logical_id.to_owned(), why);
        let (partition_key, sort_key) =
            key_schema(&properties["KeySchema"]).ok_or_else(|| malformed("KeySchema"))?;
        let mut indexes = Vec::new();
        for kind in ["GlobalSecondaryIndexes", "LocalSecondaryIndexes"] {
            let Some(list) = properties[kind].as_sequence() else {
                continue;
            };
            for index in list {
                let name = index["IndexName"]
                    .as_str()
                    .ok_or_else(|| malformed("IndexName"))?;
                let (pk, sk) =
                    key_schema(&index["KeySchema"]).ok_or_else(|| malformed("index KeySchema"))?;
                let projection = match index["Projection"]["ProjectionType"].as_str() {
                    Some("ALL") => Projection::All,
                    Some("KEYS_ONLY") => Projection::KeysOnly,
                    Some("INCLUDE") => Projection::Include(
                        index["Projection"]["NonKeyAttributes"]
                            .as_sequence()
                            .map(|names| {
                                names
                                    .iter()
                                    .filter_map(|n| n.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    ),
                    _ => return Err(malformed("ProjectionType")),
                };
                indexes.push(Index {
                    name: name.to_owned(),
                    partition_key: pk,
                    sort_key: sk,
                    projection,
                });
            }
        }
        Ok(Self {
            logical_id: logical_id.to_owned(),
            partition_key,
            sort_key,
            indexes,
        })
    }

    /// The table's key attributes.
    pub fn key_attributes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.partition_key.as_str()).chain(self.sort_key.as_deref())
    }
}

impl Index {
    /// The index's key attributes.
    pub fn key_attributes(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.partition_key.as_str()).chain(self.sort_key.as_deref())
    }
}

/// A function's memory in MB: its own `MemorySize`, or the template's `Globals`.
pub fn function_memory_mb(text: &str, logical_id: &str) -> Result<u64, SchemaError> {
    let template: Value = serde_yaml_ng::from_str(text)?;
    template["Resources"][logical_id]["Properties"]["MemorySize"]
        .as_u64()
        .or_else(|| template["Globals"]["Function"]["MemorySize"].as_u64())
        .ok_or_else(|| SchemaError::Malformed(logical_id.to_owned(), "MemorySize"))
}

/// How many resources of a type the template declares (alarms, dashboards, secrets: what a
/// deployment costs a month before it handles anything).
pub fn resource_count(text: &str, resource_type: &str) -> Result<usize, SchemaError> {
    let template: Value = serde_yaml_ng::from_str(text)?;
    Ok(template["Resources"]
        .as_mapping()
        .map(|m| {
            m.values()
                .filter(|r| r["Type"].as_str() == Some(resource_type))
                .count()
        })
        .unwrap_or(0))
}

/// `(HASH, RANGE)` attribute names of a KeySchema list.
fn key_schema(list: &Value) -> Option<(String, Option<String>)> {
    let mut hash = None;
    let mut range = None;
    for k in list.as_sequence()? {
        let name = k["AttributeName"].as_str()?.to_owned();
        match k["KeyType"].as_str()? {
            "HASH" => hash = Some(name),
            "RANGE" => range = Some(name),
            _ => return None,
        }
    }
    Some((hash?, range))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: { QueueName: !Sub "${AWS::StackName}-q" }
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema:
        - { AttributeName: pk, KeyType: HASH }
        - { AttributeName: sk, KeyType: RANGE }
      GlobalSecondaryIndexes:
        - IndexName: a
          KeySchema: [{ AttributeName: apk, KeyType: HASH }]
          Projection: { ProjectionType: KEYS_ONLY }
        - IndexName: b
          KeySchema:
            - { AttributeName: bpk, KeyType: HASH }
            - { AttributeName: bsk, KeyType: RANGE }
          Projection: { ProjectionType: INCLUDE, NonKeyAttributes: [status] }
"#;

    #[test]
    fn reads_keys_indexes_and_projections_through_cloudformation_tags() {
        let t = TableSchema::from_yaml(TEMPLATE, "Table").unwrap();
        assert_eq!(t.partition_key, "pk");
        assert_eq!(t.sort_key.as_deref(), Some("sk"));
        assert_eq!(t.indexes.len(), 2);
        assert_eq!(t.indexes[0].projection, Projection::KeysOnly);
        assert_eq!(t.indexes[0].sort_key, None);
        assert_eq!(
            t.indexes[1].projection,
            Projection::Include(vec!["status".into()])
        );
        assert!(matches!(
            TableSchema::from_yaml(TEMPLATE, "Queue"),
            Err(SchemaError::NoTable(_))
        ));
    }

    #[test]
    fn reads_the_deployed_template() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../infra/template.yaml");
        let t = TableSchema::from_template(&path, "Table").unwrap();
        assert_eq!(
            (t.partition_key.as_str(), t.sort_key.as_deref()),
            ("pk", Some("sk"))
        );
        assert!(!t.indexes.is_empty());
    }
}
