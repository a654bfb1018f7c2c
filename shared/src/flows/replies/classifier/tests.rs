use super::*;

fn classify(text: &str) -> Classification {
    Classifier::bundled().classify(text)
}

#[track_caller]
fn assert_reads(text: &str, language: Language, intent: Intent, eligible: bool) {
    let c = classify(text);
    assert_eq!(
        (c.language, c.intent, c.auto_reply_eligible()),
        (language, intent, eligible),
        "{text:?} → {}",
        c.reason
    );
}

#[test]
fn the_bundled_data_files_parse() {
    Classifier::parse(BUNDLED_INTENTS, BUNDLED_HAZARDS, BUNDLED_TEXT).expect("bundled rules");
}

#[test]
fn a_bad_phrase_is_named_by_file_and_entry() {
    let intents = BUNDLED_INTENTS.replace(r#""invoice", "invoices","#, r#""invoice", "..","#);
    let err = Classifier::parse(&intents, BUNDLED_HAZARDS, BUNDLED_TEXT).unwrap_err();
    assert_eq!(err.file, "shared/replies/intents.toml");
    assert_eq!(err.entry, "intent.invoice_request.en.strong[1]");
    assert!(
        err.to_string()
            .starts_with("shared/replies/intents.toml: intent.invoice_request.en.strong[1]: "),
        "{err}"
    );
}

#[test]
fn an_unknown_intent_or_hazard_is_named() {
    let intents = BUNDLED_INTENTS.replace("[intent.order_status]", "[intent.order_stauts]");
    let err = Classifier::parse(&intents, BUNDLED_HAZARDS, BUNDLED_TEXT).unwrap_err();
    assert_eq!(
        (err.file, err.entry.as_str()),
        ("shared/replies/intents.toml", "intent.order_stauts")
    );
    assert!(err.problem.contains("order_status"), "{err}");

    let hazards = BUNDLED_HAZARDS.replace("[legal]", "[legl]");
    let err = Classifier::parse(BUNDLED_INTENTS, &hazards, BUNDLED_TEXT).unwrap_err();
    assert_eq!(
        (err.file, err.entry.as_str()),
        ("shared/replies/hazards.toml", "[legl]")
    );
}

#[test]
fn a_file_that_is_not_toml_or_misses_a_field_is_named_with_its_line() {
    let text = BUNDLED_TEXT.replace("[greetings]", "[greetings");
    let err = Classifier::parse(BUNDLED_INTENTS, BUNDLED_HAZARDS, &text).unwrap_err();
    assert_eq!(err.file, "shared/replies/text.toml");
    assert!(err.entry.starts_with("line "), "{err}");

    let intents = BUNDLED_INTENTS.replace(
        "auto_reply_min_confidence = ",
        "auto_reply_min_confidense = ",
    );
    let err = Classifier::parse(&intents, BUNDLED_HAZARDS, BUNDLED_TEXT).unwrap_err();
    assert!(err.problem.contains("auto_reply_min_confidense"), "{err}");

    let intents = BUNDLED_INTENTS.replace(
        "auto_reply_min_confidence = 0.",
        "auto_reply_min_confidence = 7.",
    );
    let err = Classifier::parse(&intents, BUNDLED_HAZARDS, BUNDLED_TEXT).unwrap_err();
    assert_eq!(err.entry, "scoring.auto_reply_min_confidence", "{err}");
}

#[test]
fn order_status_in_english_and_french() {
    assert_reads(
        "Hi, where is my order? It's been a week.",
        Language::En,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "Has my order shipped yet?",
        Language::En,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "Bonjour, où est ma commande svp?",
        Language::Fr,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "Quand est-ce que ma commande va être expédiée?",
        Language::Fr,
        Intent::OrderStatus,
        true,
    );
}

#[test]
fn tracking_request_in_english_and_french() {
    assert_reads(
        "Can I get the tracking number for my order?",
        Language::En,
        Intent::TrackingRequest,
        true,
    );
    assert_reads(
        "The tracking hasn't been updated in 5 days.",
        Language::En,
        Intent::TrackingRequest,
        true,
    );
    assert_reads(
        "Pouvez-vous m'envoyer le numéro de suivi?",
        Language::Fr,
        Intent::TrackingRequest,
        true,
    );
    assert_reads(
        "Le suivi ne bouge pas depuis lundi",
        Language::Fr,
        Intent::TrackingRequest,
        true,
    );
}

#[test]
fn invoice_request_in_english_and_french() {
    assert_reads(
        "Could you send me the invoice for this purchase?",
        Language::En,
        Intent::InvoiceRequest,
        true,
    );
    assert_reads(
        "J'aurais besoin d'une facture pour ma commande.",
        Language::Fr,
        Intent::InvoiceRequest,
        true,
    );
    assert_reads(
        "Est-ce possible d'avoir un reçu?",
        Language::Fr,
        Intent::InvoiceRequest,
        true,
    );
}

#[test]
fn received_is_not_a_receipt_in_french() {
    let c = classify("Je n'ai toujours pas reçu ma commande");
    assert_eq!(c.intent, Intent::OrderStatus, "{}", c.reason);
}

#[test]
fn the_requests_a_person_handles_in_english_and_french() {
    for (text, language, intent) in [
        (
            "Please cancel my order, I found it elsewhere.",
            Language::En,
            Intent::CancelRequest,
        ),
        (
            "Je voudrais annuler ma commande svp",
            Language::Fr,
            Intent::CancelRequest,
        ),
        (
            "How do I return this? I'd like a refund.",
            Language::En,
            Intent::ReturnRequest,
        ),
        (
            "Je veux retourner l'article et être remboursé",
            Language::Fr,
            Intent::ReturnRequest,
        ),
        (
            "Can I change the shipping address? I moved last week.",
            Language::En,
            Intent::AddressChange,
        ),
        (
            "Je dois changer l'adresse de livraison, j'ai déménagé",
            Language::Fr,
            Intent::AddressChange,
        ),
        (
            "Is this TV compatible with a Sonos soundbar?",
            Language::En,
            Intent::ProductQuestion,
        ),
        (
            "Est-ce que la garantie est de deux ans?",
            Language::Fr,
            Intent::ProductQuestion,
        ),
        (
            "Tracking says delivered but I never got it.",
            Language::En,
            Intent::Other,
        ),
        (
            "Le suivi indique livré mais je n'ai jamais reçu le colis.",
            Language::Fr,
            Intent::Other,
        ),
    ] {
        assert_reads(text, language, intent, false);
    }
}

#[test]
fn a_negated_request_is_not_the_intent() {
    assert_reads(
        "I don't want to cancel, just tell me where it is.",
        Language::En,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "Je ne veux pas annuler, je veux juste savoir quand elle sera expédiée",
        Language::Fr,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "No need to return anything, where's my invoice?",
        Language::En,
        Intent::InvoiceRequest,
        true,
    );
}

#[test]
fn spoken_french_negates_after_the_verb() {
    assert_reads(
        "Inquiétez-vous pas, je retourne rien! J'ai juste besoin de ma facture.",
        Language::Fr,
        Intent::InvoiceRequest,
        true,
    );
}

#[test]
fn a_negation_under_a_condition_still_asks() {
    let c = classify("It was defective. If I don't get a refund this week I'll be upset.");
    assert_eq!(c.intent, Intent::ReturnRequest, "{}", c.reason);
}

#[test]
fn a_supposed_complaint_is_a_worry_not_a_complaint() {
    assert_reads(
        "I don't see anything saying it shipped. I'd like to know if something got lost.",
        Language::En,
        Intent::OrderStatus,
        true,
    );
}

#[test]
fn asking_for_tracking_of_a_shipped_order_is_a_tracking_request() {
    assert_reads(
        "Best Buy says order 600128773-A shipped but there is no tracking number. Can I have it?",
        Language::En,
        Intent::TrackingRequest,
        true,
    );
}

#[test]
fn a_mixed_request_goes_to_the_request_a_person_handles() {
    assert_reads(
        "Where is my order? Also I want to return the other item.",
        Language::En,
        Intent::ReturnRequest,
        false,
    );
    assert_reads(
        "Où est ma commande? Sinon je veux l'annuler.",
        Language::Fr,
        Intent::CancelRequest,
        false,
    );
}

#[test]
fn a_quoted_earlier_message_is_ignored() {
    let c = classify(
        "Thanks for the quick answer!\n\nOn Mon, Nov 3, 2025 at 10:00 AM Seller <s@example.com> wrote:\n\
         > Your tracking number is 7023210987654321\n> Order 201934572-A",
    );
    assert_eq!(
        (c.intent, c.entities.clone()),
        (Intent::Other, Entities::default()),
        "{}",
        c.reason
    );

    let c = classify(
        "Merci, et pour la facture?\n\nLe lun. 3 nov. 2025, à 10 h 00, Vendeur a écrit :\n> Voici votre numéro de suivi",
    );
    assert_eq!(
        (c.language, c.intent),
        (Language::Fr, Intent::InvoiceRequest),
        "{}",
        c.reason
    );

    let c = classify(
        "When will it ship?\n-----Original Message-----\nFrom: Seller\nSent: Monday\nPlease cancel nothing. Refund issued.",
    );
    assert_eq!(c.intent, Intent::OrderStatus, "{}", c.reason);

    let c = classify(
        "Où est mon colis?\n\nDe : Vendeur\nEnvoyé : 3 novembre 2025\nObjet : Remboursement",
    );
    assert_eq!(c.intent, Intent::OrderStatus, "{}", c.reason);
}

#[test]
fn a_signature_phone_number_is_not_an_order_id() {
    let c =
        classify("Hi,\nWhere is my order?\nThanks,\nJohn Smith\n5145551234\nSent from my iPhone");
    assert_eq!(
        (c.intent, c.entities.order_id),
        (Intent::OrderStatus, None),
        "{}",
        c.reason
    );

    let c = classify("Where is my order? Call me at 4505551234 if needed.");
    assert_eq!(c.entities.order_id, None, "{}", c.reason);

    let c = classify(
        "Bonjour, où est ma commande?\nMerci\nMarie Tremblay\n(450) 555-1234\nEnvoyé de mon iPhone",
    );
    assert_eq!(
        (c.intent, c.entities.order_id),
        (Intent::OrderStatus, None),
        "{}",
        c.reason
    );
}

#[test]
fn the_order_id_is_kept_as_written() {
    for (text, order) in [
        ("Where is order #201934572-A?", "201934572-A"),
        ("Commande 0201934572-A, où est-elle?", "0201934572-A"),
        ("where is my order 201934572", "201934572"),
    ] {
        let c = classify(text);
        assert_eq!(
            c.entities.order_id.as_deref(),
            Some(order),
            "{text:?} → {}",
            c.reason
        );
    }
}

#[test]
fn prices_dates_and_models_are_not_order_ids() {
    for text in [
        "I paid 1299.99 $ on 2025-11-03, where is it?",
        "Where is my QN65Q80CAFXZC order?",
        "Where is my order? SKU 16794231.",
    ] {
        let c = classify(text);
        assert_eq!(c.entities.order_id, None, "{text:?} → {}", c.reason);
    }
}

#[test]
fn two_order_ids_keep_the_first_and_are_not_eligible() {
    let c = classify("Where are orders 201934572-A and 201934999-A?");
    assert_eq!(
        c.entities.order_id.as_deref(),
        Some("201934572-A"),
        "{}",
        c.reason
    );
    assert!(!c.auto_reply_eligible(), "{}", c.reason);
    assert_eq!(c.text_guard(), Err(TextGuard::LowConfidence));

    // The same order written twice is one order.
    let c = classify("Where is order 201934572-A? (0201934572-A)");
    assert!(c.auto_reply_eligible(), "{}", c.reason);
}

#[test]
fn a_twelve_digit_number_is_an_order_or_a_tracking_number_by_its_words() {
    let c = classify("Order 123456789012: when will it ship?");
    assert_eq!(
        (
            c.entities.order_id.as_deref(),
            c.entities.tracking_pin.as_deref()
        ),
        (Some("123456789012"), None)
    );
    let c = classify("My tracking number 123456789012 doesn't work");
    assert_eq!(
        (
            c.entities.order_id.as_deref(),
            c.entities.tracking_pin.as_deref()
        ),
        (None, Some("123456789012"))
    );
    assert_eq!(c.intent, Intent::TrackingRequest, "{}", c.reason);
    let c = classify("Le numéro de suivi 123456789012 ne fonctionne pas, commande 201934572-A");
    assert_eq!(
        (
            c.entities.order_id.as_deref(),
            c.entities.tracking_pin.as_deref()
        ),
        (Some("201934572-A"), Some("123456789012"))
    );
}

#[test]
fn an_international_tracking_number_is_read_with_or_without_spaces() {
    // Spaced out in lower case, two-letter words around a number are French words.
    let c = classify("J'ai passé la 700221458 pis la 700221463 le même soir");
    assert_eq!(c.entities.tracking_pin, None, "{}", c.reason);
    for text in [
        "Where is LM123456789CA?",
        "My package LM 123 456 789 CA is stuck in customs",
        "lm123456789ca shows nothing",
    ] {
        let c = classify(text);
        assert_eq!(
            c.entities.tracking_pin.as_deref(),
            Some("LM123456789CA"),
            "{text:?} → {}",
            c.reason
        );
        assert_eq!(c.entities.order_id, None);
    }
}

#[test]
fn a_tracking_number_with_spaces_or_dashes_is_normalised() {
    for text in [
        "Tracking 7023 2109 8765 4321 hasn't moved",
        "tracking: 7023-2109-8765-4321 not updating",
        "Suivi 7023210987654321 bloqué",
    ] {
        let c = classify(text);
        assert_eq!(
            c.entities.tracking_pin.as_deref(),
            Some("7023210987654321"),
            "{text:?} → {}",
            c.reason
        );
        assert_eq!(c.intent, Intent::TrackingRequest, "{text:?} → {}", c.reason);
    }
}

#[test]
fn capitals_and_missing_accents_read_the_same() {
    assert_reads(
        "WHERE IS MY ORDER 201934572",
        Language::En,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "OU EST MA COMMANDE",
        Language::Fr,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "ou est rendu mon colis, toujours rien recu",
        Language::Fr,
        Intent::OrderStatus,
        true,
    );
    assert_reads(
        "numero de suivi svp",
        Language::Fr,
        Intent::TrackingRequest,
        true,
    );
}

#[test]
fn small_spelling_mistakes_are_tolerated() {
    assert_reads(
        "can i have the trackng numbr",
        Language::En,
        Intent::TrackingRequest,
        true,
    );
    assert_reads(
        "I need the invoise please",
        Language::En,
        Intent::InvoiceRequest,
        true,
    );
    let c = classify("ma comande est ou?");
    assert_eq!(c.intent, Intent::OrderStatus, "{}", c.reason);
}

#[test]
fn emoji_are_read_for_what_they_say() {
    assert_reads(
        "Hi, any update on my order? 🙂",
        Language::En,
        Intent::OrderStatus,
        true,
    );
    let c = classify("where is my order 😡");
    assert_eq!(
        (c.intent, c.hazard),
        (Intent::OrderStatus, Some(Hazard::Anger)),
        "{}",
        c.reason
    );
    assert_eq!(c.text_guard(), Err(TextGuard::Hazard));
}

#[test]
fn spam_is_other_and_never_eligible() {
    for text in [
        "SEO services for your store! Click here to boost your sales",
        "Congratulations, you have won a gift card! Track your prize at http://prize.example.com",
        "Félicitations! Vous avez gagné, cliquez ici",
    ] {
        let c = classify(text);
        assert_eq!(
            (c.intent, c.hazard),
            (Intent::Other, Some(Hazard::Spam)),
            "{text:?} → {}",
            c.reason
        );
        assert!(!c.auto_reply_eligible());
    }
    // A customer's Canada Post link is not spam.
    let c = classify(
        "The tracking at https://www.canadapost-postescanada.ca/track-reperage/en hasn't moved",
    );
    assert!(c.auto_reply_eligible(), "{}", c.reason);
}

#[test]
fn empty_thanks_is_other() {
    for text in ["Thanks!", "Merci beaucoup!", "Thank you\nJohn"] {
        let c = classify(text);
        assert_eq!(c.intent, Intent::Other, "{text:?} → {}", c.reason);
        assert!(!c.auto_reply_eligible());
    }
}

#[test]
fn each_kind_of_hazard_stops_an_automatic_reply() {
    for (text, hazard) in [
        ("Where is my order? This is ridiculous.", Hazard::Anger),
        (
            "Où est ma commande? Je suis tanné d'attendre",
            Hazard::Anger,
        ),
        ("WHERE IS MY ORDER!!!", Hazard::Anger),
        (
            "Where is my order? Otherwise I'll call my lawyer.",
            Hazard::Legal,
        ),
        ("Où est ma commande? Sinon mise en demeure.", Hazard::Legal),
        (
            "Tracking number please, or I file a chargeback",
            Hazard::Legal,
        ),
        (
            "Where is my order? The box arrived damaged last time.",
            Hazard::Damage,
        ),
        (
            "Numéro de suivi svp, le dernier colis était endommagé",
            Hazard::Damage,
        ),
        ("Where is my order? Is this a scam?", Hazard::Fraud),
        ("Où est ma commande? C'est une arnaque?", Hazard::Fraud),
        (
            "Where is my order? The last charger caught fire.",
            Hazard::Safety,
        ),
        (
            "Où est ma commande? L'autre chargeur a brûlé.",
            Hazard::Safety,
        ),
    ] {
        let c = classify(text);
        assert_eq!(c.hazard, Some(hazard), "{text:?} → {}", c.reason);
        assert!(!c.auto_reply_eligible(), "{text:?} → {}", c.reason);
        assert!(c.reason.contains(hazard.as_str()), "{}", c.reason);
    }
}

#[test]
fn the_reason_says_why() {
    let c = classify("Where is my order 201934572-A?");
    assert!(
        c.reason.contains("order_status") && c.reason.contains("Where is my order"),
        "{}",
        c.reason
    );
    assert!(c.reason.contains("confidence"), "{}", c.reason);
}

#[test]
fn classification_serialises_with_the_agreed_names() {
    assert_eq!(
        serde_json::to_string(&Intent::TrackingRequest).unwrap(),
        "\"tracking_request\""
    );
    assert_eq!(serde_json::to_string(&Language::Fr).unwrap(), "\"fr\"");
    assert_eq!(serde_json::to_string(&Entities::default()).unwrap(), "{}");
    assert_eq!(TextGuard::NotRoutine.as_str(), "not_routine_intent");
    for intent in Intent::ALL {
        assert_eq!(Intent::from_name(intent.as_str()), Some(intent));
    }
}

#[test]
fn a_declined_request_does_not_count_even_a_routine_one() {
    use Intent::*;
    use Language::*;
    for (text, language, intent) in [
        (
            "No need to send the invoice, I already have it. Just the tracking number please.",
            En,
            TrackingRequest,
        ),
        (
            "Je veux pas de facture, juste le suivi du colis svp.",
            Fr,
            TrackingRequest,
        ),
        (
            "Pas besoin de facture, juste le numéro de suivi.",
            Fr,
            TrackingRequest,
        ),
    ] {
        assert_reads(text, language, intent, true);
    }
    // A negation alone does not decline a routine request: the invoice never came.
    assert_reads(
        "I didn't get my invoice, can you send it?",
        En,
        InvoiceRequest,
        true,
    );
}

#[test]
fn a_hazard_word_inside_a_harmless_phrase_does_not_count() {
    for text in [
        "Has the Fire TV Stick from my order shipped yet?",
        "Est-ce que le détecteur de fumée de ma commande a été expédié?",
        "Je trouve ma commande nulle part dans mon compte, est-elle partie?",
        "I paid part of it with a gift card, can I still get the invoice?",
    ] {
        let c = classify(text);
        assert_eq!(c.hazard, None, "{text:?} → {}", c.reason);
        assert!(c.auto_reply_eligible(), "{text:?} → {}", c.reason);
    }
    // Outside such a phrase the word still hands the message over.
    let c = classify("There was smoke coming out of it. Where is my order?");
    assert_eq!(c.hazard, Some(Hazard::Safety), "{}", c.reason);
}

#[test]
fn a_charge_the_customer_does_not_recognise_is_a_fraud_hazard() {
    for text in [
        "I don't recognize this charge on my card, send me the invoice.",
        "Je reconnais pas ce montant sur mon relevé, envoyez-moi la facture.",
    ] {
        let c = classify(text);
        assert_eq!(c.hazard, Some(Hazard::Fraud), "{text:?} → {}", c.reason);
        assert!(!c.auto_reply_eligible(), "{text:?} → {}", c.reason);
    }
}

#[test]
fn the_model_alone_answers_only_when_very_sure() {
    // No phrase names a request: whatever the model reads, a person answers.
    for text in [
        "test message pls ignore",
        "Just wanted to say thanks for the fast shipping!",
    ] {
        let c = classify(text);
        assert!(!c.auto_reply_eligible(), "{text:?} → {}", c.reason);
    }
}

#[test]
fn the_customers_line_above_a_quote_header_is_their_own() {
    let c = classify(
        "Le numéro que vous m'avez donné fonctionne pas.\n\nLe 5 mars 2025 à 11:20, Boutique a écrit :\n> Votre numéro de suivi est le 7023 2109 3318 7745.",
    );
    assert_eq!(c.intent, Intent::TrackingRequest, "{}", c.reason);
    // The tracking number was in the quote, not in the customer's words.
    assert_eq!(c.entities.tracking_pin, None, "{}", c.reason);
}

#[test]
fn a_prefix_used_by_many_phrases_matches_in_every_one() {
    // "expedi*" ends many phrases; "été expédiée" is the longer one and is what counts.
    let c = classify("Ma commande a-t-elle déjà été expédiée?");
    assert_eq!(c.intent, Intent::OrderStatus, "{}", c.reason);
    let c = classify("elle a ete expediee");
    assert!(c.reason.contains("\"ete expediee\""), "{}", c.reason);
}
