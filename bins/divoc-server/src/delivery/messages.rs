//! Email and SMS texts per language.
//!
//! English is the reference. The Hindi, Tamil, Sinhala and Bengali texts are
//! NOTE: machine-drafted and need review by native speakers before production use.
//!
//! Placeholders: `{certificateId}`, `{url}` and `{expires}` (a UTC date).

/// The texts of one language.
pub struct Messages {
    /// Email subject.
    pub email_subject: &'static str,
    /// Email body, plain text.
    pub email_body: &'static str,
    /// Extra paragraph for a password-protected attachment.
    pub email_password_note: &'static str,
    /// SMS text with a share link.
    pub sms: &'static str,
}

/// Languages with texts.
#[cfg(test)]
const LANGUAGES: [&str; 5] = ["en", "hi", "ta", "si", "bn"];

const ENGLISH: Messages = Messages {
    email_subject: "Your vaccination certificate {certificateId}",
    email_body: "Your vaccination certificate {certificateId} is attached as a PDF file.\n\n\
                 You requested this email. If you did not, you can ignore it.\n",
    email_password_note: "The PDF is protected. Its password is your date of birth as DDMMYYYY, \
                          for example 05031990 for 5 March 1990.\n",
    sms: "Your vaccination certificate: {url} (valid until {expires} UTC)",
};

const HINDI: Messages = Messages {
    email_subject: "आपका टीकाकरण प्रमाणपत्र {certificateId}",
    email_body: "आपका टीकाकरण प्रमाणपत्र {certificateId} PDF फ़ाइल के रूप में संलग्न है।\n\n\
                 यह ईमेल आपके अनुरोध पर भेजा गया है। यदि आपने अनुरोध नहीं किया, तो इसे अनदेखा करें।\n",
    email_password_note: "PDF पासवर्ड से सुरक्षित है। पासवर्ड आपकी जन्मतिथि DDMMYYYY रूप में है, \
                          जैसे 5 मार्च 1990 के लिए 05031990।\n",
    sms: "आपका टीकाकरण प्रमाणपत्र: {url} ({expires} UTC तक मान्य)",
};

const TAMIL: Messages = Messages {
    email_subject: "உங்கள் தடுப்பூசி சான்றிதழ் {certificateId}",
    email_body: "உங்கள் தடுப்பூசி சான்றிதழ் {certificateId} PDF கோப்பாக இணைக்கப்பட்டுள்ளது.\n\n\
                 இந்த மின்னஞ்சலை நீங்கள் கோரினீர்கள். இல்லையெனில் இதைப் புறக்கணிக்கவும்.\n",
    email_password_note: "PDF கடவுச்சொல்லால் பாதுகாக்கப்பட்டுள்ளது. கடவுச்சொல் உங்கள் பிறந்த தேதி \
                          DDMMYYYY வடிவில், உதாரணமாக 5 மார்ச் 1990 க்கு 05031990.\n",
    sms: "உங்கள் தடுப்பூசி சான்றிதழ்: {url} ({expires} UTC வரை செல்லும்)",
};

const SINHALA: Messages = Messages {
    email_subject: "ඔබගේ එන්නත් සහතිකය {certificateId}",
    email_body: "ඔබගේ එන්නත් සහතිකය {certificateId} PDF ගොනුවක් ලෙස අමුණා ඇත.\n\n\
                 ඔබ මෙම ඊමේල් ඉල්ලුවා. ඔබ නොඉල්ලුවේ නම් එය නොසලකා හරින්න.\n",
    email_password_note: "PDF මුරපදයකින් ආරක්ෂා කර ඇත. මුරපදය ඔබගේ උපන් දිනය DDMMYYYY ලෙස, \
                          උදා. 1990 මාර්තු 5 සඳහා 05031990.\n",
    sms: "ඔබගේ එන්නත් සහතිකය: {url} ({expires} UTC දක්වා වලංගුයි)",
};

const BENGALI: Messages = Messages {
    email_subject: "আপনার টিকা সনদ {certificateId}",
    email_body: "আপনার টিকা সনদ {certificateId} PDF ফাইল হিসেবে সংযুক্ত।\n\n\
                 আপনি এই ইমেলটি অনুরোধ করেছেন। না করে থাকলে এটি উপেক্ষা করুন।\n",
    email_password_note: "PDF পাসওয়ার্ড দিয়ে সুরক্ষিত। পাসওয়ার্ড হলো আপনার জন্মতারিখ DDMMYYYY আকারে, \
                          যেমন ৫ মার্চ ১৯৯০-এর জন্য 05031990।\n",
    sms: "আপনার টিকা সনদ: {url} ({expires} UTC পর্যন্ত বৈধ)",
};

/// Returns the texts of `language`, a code that
/// [`crate::language::resolve_language`] returned, or English for a language
/// without texts (one added by a label set file in `pdf.labels_dir`).
pub fn messages_or_english(language: &str) -> &'static Messages {
    messages(language).unwrap_or(&ENGLISH)
}

/// Returns the texts of `language`, or `None` for a language without texts.
pub fn messages(language: &str) -> Option<&'static Messages> {
    match language {
        "en" => Some(&ENGLISH),
        "hi" => Some(&HINDI),
        "ta" => Some(&TAMIL),
        "si" => Some(&SINHALA),
        "bn" => Some(&BENGALI),
        _ => None,
    }
}

/// Replaces `{name}` placeholders with their values.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{name}}}"), value);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_placeholder() {
        for language in LANGUAGES {
            let texts = messages(language).unwrap();
            assert!(
                texts.email_subject.contains("{certificateId}"),
                "{language}"
            );
            assert!(texts.email_body.contains("{certificateId}"), "{language}");
            assert!(texts.sms.contains("{url}"), "{language}");
            assert!(texts.sms.contains("{expires}"), "{language}");
        }
        assert!(messages("fr").is_none());
    }

    #[test]
    fn fill_replaces_placeholders() {
        let text = fill(
            ENGLISH.sms,
            &[("url", "http://x/s/T"), ("expires", "2026-12-11")],
        );
        assert_eq!(
            text,
            "Your vaccination certificate: http://x/s/T (valid until 2026-12-11 UTC)"
        );
    }
}
