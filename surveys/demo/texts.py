"""The words of the demo surveys, written for Colloquy in English, German and Finnish: the
instruments' pages, questions and options, and the sentences the demo's respondents compose their
long-text answers from. Every text is a dict language -> text with all of LANGUAGES."""

from __future__ import annotations

LANGUAGES = ("en", "de", "fi")
LANGUAGE_NAMES = {"en": "English", "de": "Deutsch", "fi": "Suomi"}
QUALITIES = ("explainability", "accuracy", "humanity", "negotiability")
DOMAINS = ("hiring", "medicine", "justice", "lending", "welfare")

T = dict[str, str]

# --- The instruments --------------------------------------------------------------------------

TITLES = {"pre": "Before the workshop", "post": "After the workshop"}

PAGES: dict[str, T] = {
    "trust_page": {
        "en": "Trust in algorithms",
        "de": "Vertrauen in Algorithmen",
        "fi": "Luottamus algoritmeihin",
    },
    "experience_page": {
        "en": "Your experience",
        "de": "Ihre Erfahrungen",
        "fi": "Omat kokemuksesi",
    },
    "about_page": {
        "en": "About you and your views",
        "de": "Über Sie und Ihre Sicht",
        "fi": "Sinusta ja näkemyksistäsi",
    },
    "looking_back_page": {
        "en": "Looking back on the workshop",
        "de": "Rückblick auf den Workshop",
        "fi": "Työpajaa muistellen",
    },
}

QUESTIONS: dict[str, T] = {
    "trust": {
        "en": "How much do you trust decisions made by algorithms?",
        "de": "Wie sehr vertrauen Sie Entscheidungen, die von Algorithmen getroffen werden?",
        "fi": "Kuinka paljon luotat algoritmien tekemiin päätöksiin?",
    },
    "importance": {
        "en": "How much does each matter when an algorithm decides about you?",
        "de": "Wie wichtig ist Ihnen jeweils Folgendes, wenn ein Algorithmus über Sie entscheidet?",
        "fi": "Kuinka tärkeä kukin seuraavista on, kun algoritmi tekee sinua koskevan päätöksen?",
    },
    "rank_qualities": {
        "en": "Put these qualities in order of importance to you.",
        "de": "Bringen Sie diese Eigenschaften in die Reihenfolge ihrer Wichtigkeit für Sie.",
        "fi": "Järjestä nämä ominaisuudet sen mukaan, kuinka tärkeitä ne ovat sinulle.",
    },
    "affected": {
        "en": "Has an algorithm ever decided something important about you?",
        "de": "Hat ein Algorithmus schon einmal etwas Wichtiges über Sie entschieden?",
        "fi": "Onko algoritmi koskaan päättänyt jostakin sinulle tärkeästä asiasta?",
    },
    "affected_story": {
        "en": "What happened, and how did it feel?",
        "de": "Was ist passiert, und wie hat es sich angefühlt?",
        "fi": "Mitä tapahtui, ja miltä se tuntui?",
    },
    "domains": {
        "en": "In which areas would you accept an algorithm deciding?",
        "de": "In welchen Bereichen würden Sie akzeptieren, dass ein Algorithmus entscheidet?",
        "fi": "Millä elämänalueilla hyväksyisit sen, että algoritmi tekee päätöksen?",
    },
    "age": {"en": "How old are you?", "de": "Wie alt sind Sie?", "fi": "Kuinka vanha olet?"},
    "acceptable": {
        "en": "What would make an algorithmic decision acceptable to you?",
        "de": "Was würde eine algorithmische Entscheidung für Sie akzeptabel machen?",
        "fi": "Mikä tekisi algoritmin tekemästä päätöksestä sinulle hyväksyttävän?",
    },
    "changed": {
        "en": "Did the workshop change your view? How?",
        "de": "Hat der Workshop Ihre Sicht verändert? Wie?",
        "fi": "Muuttiko työpaja näkemystäsi? Miten?",
    },
}

HINTS: dict[str, T] = {
    "rank_qualities": {
        "en": "First place: the most important.",
        "de": "Erster Platz: das Wichtigste.",
        "fi": "Ensimmäinen sija: tärkein.",
    },
    "domains": {
        "en": "Choose all that apply.",
        "de": "Mehrfachauswahl möglich.",
        "fi": "Valitse kaikki sopivat.",
    },
    "age": {"en": "In years.", "de": "In Jahren.", "fi": "Vuosina."},
}

# The matrix's rows: each quality with what it means for the respondent.
ROWS: dict[str, T] = {
    "explainability": {
        "en": "Explainability: I can find out why",
        "de": "Erklärbarkeit: Ich kann erfahren, warum",
        "fi": "Selitettävyys: saan tietää, miksi",
    },
    "accuracy": {
        "en": "Accuracy: the decision is correct",
        "de": "Genauigkeit: Die Entscheidung ist richtig",
        "fi": "Tarkkuus: päätös on oikea",
    },
    "humanity": {
        "en": "Humanity: I am treated as a person",
        "de": "Menschlichkeit: Ich werde als Mensch behandelt",
        "fi": "Inhimillisyys: minua kohdellaan ihmisenä",
    },
    "negotiability": {
        "en": "Negotiability: I can argue my case and change the outcome",
        "de": "Verhandelbarkeit: Ich kann meine Lage darlegen und das Ergebnis ändern",
        "fi": "Neuvoteltavuus: voin perustella tilanteeni ja muuttaa lopputulosta",
    },
}

# Choice lists: list name -> [(code, texts)].
CHOICES: dict[str, list[tuple[str, T]]] = {
    "trust_likert": [
        ("1", {"en": "Not at all", "de": "Überhaupt nicht", "fi": "En lainkaan"}),
        ("2", {"en": "A little", "de": "Ein wenig", "fi": "Vähän"}),
        ("3", {"en": "Somewhat", "de": "Teilweise", "fi": "Jonkin verran"}),
        ("4", {"en": "Quite a lot", "de": "Ziemlich", "fi": "Melko paljon"}),
        ("5", {"en": "Completely", "de": "Voll und ganz", "fi": "Täysin"}),
    ],
    "importance_likert": [
        ("1", {"en": "Not important", "de": "Nicht wichtig", "fi": "Ei tärkeä"}),
        ("2", {"en": "Slightly important", "de": "Wenig wichtig", "fi": "Vähän tärkeä"}),
        ("3", {"en": "Moderately important", "de": "Mittelmäßig wichtig", "fi": "Melko tärkeä"}),
        ("4", {"en": "Very important", "de": "Sehr wichtig", "fi": "Hyvin tärkeä"}),
        ("5", {"en": "Extremely important", "de": "Äußerst wichtig", "fi": "Erittäin tärkeä"}),
    ],
    "qualities": [
        ("explainability", {"en": "Explainability", "de": "Erklärbarkeit", "fi": "Selitettävyys"}),
        ("accuracy", {"en": "Accuracy", "de": "Genauigkeit", "fi": "Tarkkuus"}),
        ("humanity", {"en": "Humanity", "de": "Menschlichkeit", "fi": "Inhimillisyys"}),
        (
            "negotiability",
            {"en": "Negotiability", "de": "Verhandelbarkeit", "fi": "Neuvoteltavuus"},
        ),
    ],
    "yes_no": [
        ("yes", {"en": "Yes", "de": "Ja", "fi": "Kyllä"}),
        ("no", {"en": "No", "de": "Nein", "fi": "Ei"}),
        ("not_sure", {"en": "Not sure", "de": "Weiß nicht", "fi": "En ole varma"}),
    ],
    "domains": [
        ("hiring", {"en": "Hiring", "de": "Personalauswahl", "fi": "Rekrytointi"}),
        ("medicine", {"en": "Medicine", "de": "Medizin", "fi": "Lääketiede"}),
        ("justice", {"en": "Justice", "de": "Justiz", "fi": "Oikeuslaitos"}),
        ("lending", {"en": "Lending", "de": "Kreditvergabe", "fi": "Lainanmyöntö"}),
        ("welfare", {"en": "Welfare benefits", "de": "Sozialleistungen", "fi": "Sosiaaliturva"}),
    ],
}

# --- What the respondents write ---------------------------------------------------------------

# "What would make an algorithmic decision acceptable to you?": a sentence for the quality the
# respondent ranks first, one for the second, now and then a closing thought.
ACCEPTABLE: dict[str, dict[str, list[str]]] = {
    "en": {
        "negotiability": [
            "I would need a real person I can talk to who is able to change the outcome, not "
            "just pass on the result.",
            "There has to be a way to appeal and explain my situation when my case does not fit "
            "the boxes.",
            "Someone should have the room to make an exception when the rules do not fit my life.",
        ],
        "explainability": [
            "It would have to tell me why it decided what it did, in words I understand.",
            "I want to see which reasons counted against me, so I know what I could do "
            "differently.",
            "No black box: the organisation using it should be able to explain every decision.",
        ],
        "accuracy": [
            "It must be right far more often than the people who did the job before.",
            "The error rates should be published and checked by someone independent.",
            "If it makes mistakes, they have to be found and corrected quickly.",
        ],
        "humanity": [
            "I want to be treated as a person, not as a file number.",
            "A human should look at the final decision and see the whole person behind the data.",
            "It should be used with respect and some compassion for people in difficult "
            "situations.",
        ],
    },
    "de": {
        "negotiability": [
            "Ich bräuchte einen echten Ansprechpartner, der das Ergebnis auch ändern kann und es "
            "nicht nur weitergibt.",
            "Es muss die Möglichkeit geben, Widerspruch einzulegen und meine Situation zu "
            "erklären, wenn mein Fall nicht ins Schema passt.",
            "Jemand sollte den Spielraum haben, eine Ausnahme zu machen, wenn die Regeln nicht "
            "zu meinem Leben passen.",
        ],
        "explainability": [
            "Das System müsste mir sagen, warum es so entschieden hat, und zwar so, dass ich es "
            "verstehe.",
            "Ich möchte sehen, welche Gründe gegen mich gesprochen haben, damit ich weiß, was ich "
            "anders machen kann.",
            "Keine Blackbox: Die Stelle, die es einsetzt, muss jede Entscheidung begründen können.",
        ],
        "accuracy": [
            "Es muss deutlich seltener falsch liegen als die Menschen, die das vorher gemacht "
            "haben.",
            "Die Fehlerquoten sollten veröffentlicht und unabhängig geprüft werden.",
            "Wenn es Fehler macht, müssen sie schnell gefunden und korrigiert werden.",
        ],
        "humanity": [
            "Ich möchte als Mensch behandelt werden und nicht als Aktenzeichen.",
            "Ein Mensch sollte sich die endgültige Entscheidung ansehen und die ganze Person "
            "hinter den Daten sehen.",
            "Es sollte mit Respekt und etwas Mitgefühl für Menschen in schwierigen Lagen "
            "eingesetzt werden.",
        ],
    },
    "fi": {
        "negotiability": [
            "Tarvitsisin oikean ihmisen, jolle voin puhua ja joka voi myös muuttaa lopputulosta "
            "eikä vain välitä sitä eteenpäin.",
            "Pitää olla mahdollisuus valittaa ja selittää oma tilanne, jos tapaukseni ei sovi "
            "valmiisiin laatikoihin.",
            "Jollakulla pitäisi olla valta tehdä poikkeus, kun säännöt eivät sovi elämääni.",
        ],
        "explainability": [
            "Sen pitäisi kertoa, miksi se päätti niin, ja sellaisin sanoin, että ymmärrän.",
            "Haluan nähdä, mitkä perusteet puhuivat minua vastaan, jotta tiedän, mitä voisin "
            "tehdä toisin.",
            "Ei mustaa laatikkoa: käyttäjän pitää pystyä perustelemaan jokainen päätös.",
        ],
        "accuracy": [
            "Sen täytyy osua oikeaan paljon useammin kuin ihmiset, jotka tekivät työn ennen.",
            "Virheprosentit pitäisi julkaista, ja jonkun riippumattoman pitäisi tarkistaa ne.",
            "Jos se tekee virheitä, ne pitää löytää ja korjata nopeasti.",
        ],
        "humanity": [
            "Haluan, että minua kohdellaan ihmisenä eikä asianumerona.",
            "Ihmisen pitäisi katsoa lopullinen päätös ja nähdä koko ihminen datan takana.",
            "Sitä pitäisi käyttää kunnioittavasti ja myötätuntoisesti niitä kohtaan, joilla on "
            "vaikeaa.",
        ],
    },
}

CLOSERS: dict[str, list[str]] = {
    "en": [
        "For small things like a parcel delivery I do not mind at all.",
        "In medicine or in court I would still want a human to have the last word.",
        "Honestly, I am not sure anything would make me fully comfortable with it.",
        "Most of all I would like to know that I was dealing with an algorithm in the first place.",
    ],
    "de": [
        "Bei Kleinigkeiten wie einer Paketzustellung ist es mir egal.",
        "In der Medizin oder vor Gericht möchte ich trotzdem, dass ein Mensch das letzte Wort hat.",
        "Ehrlich gesagt weiß ich nicht, ob mich irgendetwas ganz beruhigen würde.",
        "Vor allem möchte ich überhaupt wissen, dass ein Algorithmus beteiligt war.",
    ],
    "fi": [
        "Pienissä asioissa, kuten pakettien toimituksessa, se ei haittaa minua lainkaan.",
        "Lääketieteessä tai oikeudessa haluaisin silti, että ihmisellä on viimeinen sana.",
        "Rehellisesti sanottuna en tiedä, saisiko mikään minua täysin luottamaan siihen.",
        "Ennen kaikkea haluaisin tietää, että päätöksen teki ylipäätään algoritmi.",
    ],
}

# "What happened, and how did it feel?": what happened, then how it felt.
STORY_EVENTS: dict[str, list[str]] = {
    "en": [
        "My loan application was turned down within minutes by an online system.",
        "An automatic screening tool rejected my job application before anyone read it.",
        "My benefit payments were stopped because a system flagged my file as suspicious.",
        "The insurance company raised my premium after an algorithm rated my neighbourhood.",
        "A hospital triage app told me to wait, and it turned out I needed treatment that day.",
    ],
    "de": [
        "Mein Kreditantrag wurde von einem Online-System innerhalb von Minuten abgelehnt.",
        "Ein automatisches Auswahlverfahren hat meine Bewerbung aussortiert, bevor sie jemand "
        "gelesen hat.",
        "Meine Sozialleistungen wurden gestoppt, weil ein System meine Akte als verdächtig "
        "markiert hatte.",
        "Die Versicherung hat meinen Beitrag erhöht, nachdem ein Algorithmus mein Wohnviertel "
        "bewertet hatte.",
        "Eine Ersteinschätzungs-App im Krankenhaus sagte mir, ich solle warten, dabei brauchte "
        "ich noch am selben Tag eine Behandlung.",
    ],
    "fi": [
        "Verkkopalvelu hylkäsi lainahakemukseni muutamassa minuutissa.",
        "Automaattinen esikarsinta hylkäsi työhakemukseni ennen kuin kukaan luki sitä.",
        "Tukieni maksu keskeytettiin, koska järjestelmä oli merkinnyt hakemukseni epäilyttäväksi.",
        "Vakuutusyhtiö nosti maksuani, kun algoritmi oli arvioinut asuinalueeni.",
        "Päivystyksen arviointisovellus käski minun odottaa, vaikka tarvitsin hoitoa samana "
        "päivänä.",
    ],
}
STORY_FEELINGS: dict[str, list[str]] = {
    "en": [
        "Nobody could tell me why, and the phone line only repeated what the letter said.",
        "When I finally reached a person, she fixed it in ten minutes, which made me angry "
        "about the weeks before.",
        "I felt powerless, as if I was arguing with a wall.",
        "I still do not know whether it was a mistake or a rule I never saw.",
    ],
    "de": [
        "Niemand konnte mir sagen, warum, und die Hotline hat nur wiederholt, was im Brief stand.",
        "Als ich endlich einen Menschen erreicht habe, war es in zehn Minuten erledigt, und das "
        "hat mich über die Wochen davor erst recht geärgert.",
        "Ich habe mich ohnmächtig gefühlt, als würde ich gegen eine Wand reden.",
        "Ich weiß bis heute nicht, ob es ein Fehler war oder eine Regel, die ich nie gesehen habe.",
    ],
    "fi": [
        "Kukaan ei osannut kertoa miksi, ja puhelinpalvelu vain toisti, mitä kirjeessä luki.",
        "Kun vihdoin sain ihmisen kiinni, hän korjasi asian kymmenessä minuutissa, mikä suututti "
        "minua entistä enemmän.",
        "Tunsin itseni voimattomaksi, kuin olisin puhunut seinälle.",
        "En vieläkään tiedä, oliko se virhe vai sääntö, jota en koskaan nähnyt.",
    ],
}

# "Did the workshop change your view? How?": for those who now rate negotiability higher, and
# for those who do not; a sentence more for those who trust algorithms less than before.
CHANGED_MORE: dict[str, list[str]] = {
    "en": [
        "Yes. I had not thought about how much it matters that someone can still make an "
        "exception.",
        "It did: hearing the others, I realised that what I want most is a chance to argue my "
        "case.",
        "A little. I used to think accuracy was everything, now I care more about being able to "
        "push back.",
        "Yes, the stories about appeals that went nowhere stayed with me.",
    ],
    "de": [
        "Ja. Ich hatte nicht darüber nachgedacht, wie wichtig es ist, dass jemand noch eine "
        "Ausnahme machen kann.",
        "Ja, als ich die anderen gehört habe, wurde mir klar, dass ich vor allem die Chance "
        "will, meine Sicht darzulegen.",
        "Ein wenig. Früher war mir Genauigkeit das Wichtigste, jetzt ist mir wichtiger, dass ich "
        "widersprechen kann.",
        "Ja, die Geschichten über Einsprüche, die ins Leere liefen, gehen mir nicht aus dem Kopf.",
    ],
    "fi": [
        "Kyllä. En ollut ajatellut, kuinka tärkeää on, että joku voi vielä tehdä poikkeuksen.",
        "Muutti: muita kuunnellessani tajusin, että haluan ennen kaikkea mahdollisuuden "
        "perustella oman asiani.",
        "Vähän. Ennen ajattelin, että tarkkuus on kaikki kaikessa, nyt minulle on tärkeämpää, "
        "että voin panna vastaan.",
        "Kyllä, tarinat valituksista, jotka eivät johtaneet mihinkään, jäivät mieleeni.",
    ],
}
CHANGED_SAME: dict[str, list[str]] = {
    "en": [
        "Not really. I still think the main thing is that the decisions are correct.",
        "Not much, but it was interesting to hear how differently people see it in other areas.",
        "No. I was sceptical before and I am sceptical now.",
    ],
    "de": [
        "Eigentlich nicht. Ich finde immer noch, dass es vor allem darauf ankommt, dass die "
        "Entscheidungen stimmen.",
        "Nicht wirklich, aber es war interessant zu hören, wie unterschiedlich andere das in "
        "anderen Bereichen sehen.",
        "Nein. Ich war vorher skeptisch und bin es jetzt auch.",
    ],
    "fi": [
        "Ei oikeastaan. Minusta tärkeintä on edelleen, että päätökset ovat oikeita.",
        "Ei paljon, mutta oli kiinnostavaa kuulla, miten eri tavalla ihmiset näkevät asian eri "
        "aloilla.",
        "Ei. Olin epäileväinen ennen ja olen sitä nyt.",
    ],
}
TRUST_DOWN: T = {
    "en": "I trust these systems a bit less than before.",
    "de": "Ich vertraue solchen Systemen jetzt etwas weniger als vorher.",
    "fi": "Luotan tällaisiin järjestelmiin nyt vähän vähemmän kuin ennen.",
}

# "Other, please specify" in the areas question.
OTHER_AREAS: dict[str, list[str]] = {
    "en": ["Insurance", "School admissions", "Parking fines"],
    "de": ["Versicherungen", "Studienplatzvergabe", "Bußgelder"],
    "fi": ["Vakuutukset", "Opiskelijavalinnat", "Pysäköintivirheet"],
}
