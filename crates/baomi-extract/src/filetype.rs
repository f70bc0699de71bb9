use std::fmt;

/// The true type of an object, found from its content by [`crate::sniff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    Empty,
    Text,
    Html,
    Xml,
    Rtf,
    Pdf,
    Docx,
    Xlsx,
    Pptx,
    Odt,
    Ods,
    Odp,
    Ofd,
    Eml,
    Mbox,
    Zip,
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
    SevenZ,
    Rar,
    /// OOXML encrypted with a password: a CFB container with EncryptionInfo/EncryptedPackage.
    EncryptedOoxml,
    Doc,
    Xls,
    Ppt,
    Msg,
    /// Other OLE compound files (WPS, Visio, …).
    Ole,
    Png,
    Jpeg,
    Gif,
    Bmp,
    Tiff,
    Webp,
    /// Anything else: executables, media, unknown binaries.
    Binary,
}

impl FileType {
    /// The name used in the JSON contract (`type`, `declared_type`).
    pub fn as_str(self) -> &'static str {
        use FileType::*;
        match self {
            Empty => "empty",
            Text => "text",
            Html => "html",
            Xml => "xml",
            Rtf => "rtf",
            Pdf => "pdf",
            Docx => "docx",
            Xlsx => "xlsx",
            Pptx => "pptx",
            Odt => "odt",
            Ods => "ods",
            Odp => "odp",
            Ofd => "ofd",
            Eml => "eml",
            Mbox => "mbox",
            Zip => "zip",
            Tar => "tar",
            Gzip => "gzip",
            Bzip2 => "bzip2",
            Xz => "xz",
            Zstd => "zstd",
            SevenZ => "7z",
            Rar => "rar",
            EncryptedOoxml => "ooxml-encrypted",
            Doc => "doc",
            Xls => "xls",
            Ppt => "ppt",
            Msg => "msg",
            Ole => "ole",
            Png => "png",
            Jpeg => "jpeg",
            Gif => "gif",
            Bmp => "bmp",
            Tiff => "tiff",
            Webp => "webp",
            Binary => "binary",
        }
    }

    pub fn is_image(self) -> bool {
        use FileType::*;
        matches!(self, Png | Jpeg | Gif | Bmp | Tiff | Webp)
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
