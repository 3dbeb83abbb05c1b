//! Open enums: Meta adds status and event strings without notice, so an unknown string must be a
//! value (`Other`), never a parse error.

/// Declares an enum of Meta's known strings plus `Other(Box<String>)` for anything new (a thin box: the enum is 16 bytes, which keeps a
/// status within what the compiler moves without a `memcpy` call), with
/// `as_str`, `Display`, and a borrowing `Deserialize` that never fails on an unknown string.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A string Meta sent that this version does not know, kept verbatim.
            Other(Box<String>),
        }

        impl $name {
            /// The string exactly as Meta sends it.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )+
                    Self::Other(s) => s.as_str(),
                }
            }

            /// Maps a wire string to a variant; unknown strings become `Other`.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $( $wire => Self::$variant, )+
                    other => Self::Other(Box::new(other.to_owned())),
                }
            }

            /// True when the string was not one this version knows.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Other(_))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::meta::lenient::map_str(d, Self::from_wire)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

pub(crate) use open_enum;
